"""`interlace dlq`: the dead-letter queue of model runs that failed after all their retries."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

if TYPE_CHECKING:
    from interlace.project import Project
    from interlace.state.base import DeadLetter, StateStore
    from interlace.status import DeadLetterStatus


def _project(ctx: click.Context, project: Path | None, env: str | None) -> Project:
    from interlace_cli.common import State

    parent: State = ctx.find_root().obj
    return State(project or parent.project_path, env or parent.env).load()


def _store(project: Project) -> StateStore:
    from interlace.opening import open_state

    from interlace_cli.common import handle_errors

    with handle_errors():
        return open_state(project)


project_opt = click.option(
    "--project", "-p", type=click.Path(file_okay=False, path_type=Path), default=None
)
env_opt = click.option("--env", "-e", default=None)


@click.group()
def dlq() -> None:
    """Dead letters: failed model runs to inspect, retry or resolve."""


@dlq.command("list")
@click.option(
    "--status",
    type=click.Choice(["open", "resolved", "retried", "all"]),
    default="open",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@project_opt
@env_opt
@click.pass_context
def list_(
    ctx: click.Context, status: str, limit: int, project: Path | None, env: str | None
) -> None:
    """List dead letters of the environment."""
    from rich.table import Table

    from interlace_cli.console import make_console

    loaded = _project(ctx, project, env)
    wanted = None if status == "all" else cast("DeadLetterStatus", status)  # click checked it
    store = _store(loaded)
    try:
        letters = store.dead_letters(loaded.env, wanted, limit)
    finally:
        store.close()
    if not letters:
        click.echo(f"no {'' if status == 'all' else status + ' '}dead letters in env {loaded.env}")
        return
    table = Table(title=f"dead letters [{loaded.env}]", title_justify="left")
    for column in ("id", "model", "failed at", "attempts", "status", "error"):
        table.add_column(column)
    for letter in letters:
        when = dt.datetime.fromtimestamp(letter.created_at).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            str(letter.id),
            letter.model,
            when,
            str(letter.attempts),
            letter.status,
            letter.error.split(" (hint:")[0].splitlines()[0][:100],
        )
    make_console().print(table)


def _letter(store: StateStore, letter_id: int, env: str) -> DeadLetter:
    from interlace.dead_letters import DeadLetterError, find_dead_letter

    from interlace_cli.common import fail

    try:
        return find_dead_letter(store, letter_id, env)
    except DeadLetterError as exc:
        store.close()
        fail(str(exc), code=1)


@dlq.command()
@click.argument("letter_id", type=int)
@project_opt
@env_opt
@click.pass_context
def show(ctx: click.Context, letter_id: int, project: Path | None, env: str | None) -> None:
    """Show one dead letter with its error and traceback."""
    loaded = _project(ctx, project, env)
    store = _store(loaded)
    try:
        letter = _letter(store, letter_id, loaded.env)
    finally:
        store.close()
    for key in (
        "id",
        "model",
        "run_id",
        "status",
        "attempts",
        "error_type",
        "location",
        "error",
        "resolution",
    ):
        value = getattr(letter, key)
        if value not in (None, ""):
            click.echo(f"{key:<11} {value}")
    if letter.traceback:
        click.echo("traceback:")
        click.echo(letter.traceback.rstrip())


@dlq.command()
@click.argument("letter_id", type=int)
@project_opt
@env_opt
@click.pass_context
def retry(ctx: click.Context, letter_id: int, project: Path | None, env: str | None) -> None:
    """Run the dead letter's model again; on success the letter is marked retried."""
    from interlace_cli.progress import run_with_progress

    loaded = _project(ctx, project, env)
    store = _store(loaded)
    try:
        letter = _letter(store, letter_id, loaded.env)
    finally:
        store.close()
    from interlace.dead_letters import mark_retried, retry_target

    from interlace_cli.common import handle_errors

    with handle_errors():
        model = retry_target(loaded, letter)
    code = run_with_progress(loaded, [model], [], force=True, workers=None, verbose=False)
    if code == 0:
        store = _store(loaded)
        try:
            mark_retried(store, letter_id, time.time())
        finally:
            store.close()
        click.echo(f"dead letter {letter_id} retried successfully")
    sys.exit(code)


@dlq.command()
@click.argument("letter_ids", type=int, nargs=-1, required=True)
@click.option("--note", default="resolved by hand", show_default=True)
@project_opt
@env_opt
@click.pass_context
def resolve(
    ctx: click.Context,
    letter_ids: tuple[int, ...],
    note: str,
    project: Path | None,
    env: str | None,
) -> None:
    """Mark dead letters resolved without running anything."""
    from interlace.dead_letters import resolve_dead_letters

    from interlace_cli.common import handle_errors

    loaded = _project(ctx, project, env)
    store = _store(loaded)
    try:
        with handle_errors():
            resolve_dead_letters(store, letter_ids, loaded.env, time.time(), note)
    finally:
        store.close()
    click.echo(f"resolved {len(letter_ids)} dead letter(s)")
