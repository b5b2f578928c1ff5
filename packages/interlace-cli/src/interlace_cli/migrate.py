"""`interlace migrate`: run the project's versioned SQL migrations (SPEC §14.1)."""

from __future__ import annotations

import datetime as dt
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from interlace.migrations import MigrationOutcome, MigrationStep, Migrator


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _describe(step: MigrationStep, root: Path) -> str:
    arrow = "up  " if step.direction == "up" else "down"
    return f"{arrow} {step.migration.label}  ({_relative(step.file, root)} on '{step.connection}')"


def _show_list(migrator: Migrator) -> None:
    from rich.markup import escape
    from rich.table import Table

    from interlace_cli.console import make_console

    statuses = migrator.status()
    if not statuses:
        click.echo("no migrations (add files like migrations/001_create_x.up.sql)")
        return
    table = Table(
        title=escape(f"migrations [{migrator.env}]"),
        title_justify="left",
        show_edge=False,
        box=None,
    )
    for column in ("version", "name", "status", "applied at", "down"):
        table.add_column(column)
    for s in statuses:
        when = (
            dt.datetime.fromtimestamp(s.applied.applied_at).strftime("%Y-%m-%d %H:%M:%S")
            if s.applied
            else ""
        )
        table.add_row(f"{s.version:03d}", s.name, s.state, when, "yes" if s.has_down else "no")
    make_console().print(table)


def _run_interruptibly(
    migrator: Migrator, steps: list[MigrationStep]
) -> tuple[MigrationOutcome, int | None]:
    """Run ``steps`` in a thread; the first Ctrl-C (or SIGTERM) interrupts the migration in
    flight, which rolls back. Returns the outcome and the signal that stopped it, if any."""
    import asyncio

    from interlace_cli.interrupt import run_interruptibly, stop_message

    stopped: list[int] = []

    def stop(signum: int) -> None:
        stopped.append(signum)
        migrator.cancel()
        detail = ": rolling back the migration in flight"
        click.secho(f"\n{stop_message(signum, detail)}", fg="yellow", err=True)

    async def apply() -> MigrationOutcome:
        work = asyncio.ensure_future(asyncio.to_thread(migrator.run, steps))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:  # the migrator was told to stop: wait for the rollback
            return await work

    outcome = run_interruptibly(apply(), on_cancel=stop)
    return outcome, stopped[0] if stopped else None


@click.command()
@click.option("--dry-run", is_flag=True, help="Print what would run, change nothing.")
@click.option("--list", "list_only", is_flag=True, help="List migrations: applied or pending.")
@click.option("--rollback", is_flag=True, help="Undo the newest applied migration (its .down.sql).")
@click.option(
    "--to",
    "to",
    type=click.IntRange(min=0),
    default=None,
    help="Migrate up or down to this version (0 undoes every migration).",
)
@click.option("--project", "-p", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--env", "-e", default=None)
@click.pass_context
def migrate(
    ctx: click.Context,
    dry_run: bool,
    list_only: bool,
    rollback: bool,
    to: int | None,
    project: Path | None,
    env: str | None,
) -> None:
    """Apply pending migrations from migrations/ (NNN_name.up.sql, NNN_name.down.sql).

    Each runs in its own transaction and is recorded per environment; a failure is rolled back
    and stops the sequence.
    """
    from interlace.migrations import Migrator

    from interlace_cli.common import State, fail, handle_errors

    if rollback and to is not None:
        fail("give either --rollback or --to, not both", code=2)
    parent: State = ctx.find_root().obj
    loaded = State(project or parent.project_path, env or parent.env).load()
    root = loaded.root
    with handle_errors(), Migrator(loaded) as migrator:
        for warning in migrator.warnings():
            click.secho(f"warning: {warning}", fg="yellow", err=True)
        if list_only:
            _show_list(migrator)
            return
        steps = migrator.plan(to=to, rollback=rollback)
        if not steps:
            click.echo(f"nothing to migrate in env '{loaded.env}' (all migrations applied)")
            return
        if dry_run:
            click.echo(f"would run {len(steps)} migration(s) in env '{loaded.env}':")
            for step in steps:
                click.echo(f"  {_describe(step, root)}")
            return
        outcome, signum = _run_interruptibly(migrator, steps)
    for step, seconds in outcome.done:
        click.secho(f"  ✓ {_describe(step, root)}  {seconds * 1000:.0f}ms", fg="green")
    if signum is not None and outcome.failed is None:
        parts = [f"{len(outcome.done)} migration(s) applied"] if outcome.done else []
        if outcome.interrupted is not None:
            step = outcome.interrupted
            click.secho(f"  ✗ {_describe(step, root)}  interrupted", fg="yellow")
            parts.append(
                f"migration {step.migration.label} ({_relative(step.file, root)}) was rolled back"
            )
        remaining = len(steps) - len(outcome.done) - (outcome.interrupted is not None)
        if remaining:
            parts.append(f"{remaining} later migration(s) not run")
        how = "terminated" if signum == signal.SIGTERM else "interrupted"
        click.secho(f"{how}: {'; '.join(parts) or 'nothing left to run'}", fg="yellow", err=True)
        sys.exit(128 + signum)
    if outcome.failed is not None:
        step = outcome.failed
        click.secho(f"  ✗ {_describe(step, root)}", fg="red")
        remaining = len(steps) - len(outcome.done) - 1
        after = f"; {remaining} later migration(s) not run" if remaining else ""
        click.secho(
            f"error: migration {step.migration.label} ({_relative(step.file, root)}) failed: "
            f"{outcome.error}\n  it was rolled back{after}",
            fg="red",
            err=True,
        )
        sys.exit(1)
    verb = "applied" if steps[0].direction == "up" else "rolled back"
    click.echo(f"{verb} {len(outcome.done)} migration(s) in env '{loaded.env}'")
