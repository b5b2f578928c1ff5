"""`interlace schema history|diff`: the recorded schema versions of a model."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from interlace.project import Project


def _load(ctx: click.Context, project: Path | None, env: str | None) -> Project:
    from interlace_cli.common import State

    parent: State = ctx.find_root().obj
    return State(project or parent.project_path, env or parent.env).load()


@click.group()
def schema() -> None:
    """Schema versions recorded for each model (first creation and every change)."""


@schema.command("history")
@click.argument("model")
@click.option("--project", "-p", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--env", "-e", default=None)
@click.pass_context
def history(ctx: click.Context, model: str, project: Path | None, env: str | None) -> None:
    """List the schema versions of MODEL."""
    from interlace.opening import open_state
    from rich.table import Table

    from interlace_cli.common import handle_errors
    from interlace_cli.console import make_console

    loaded = _load(ctx, project, env)
    with handle_errors():
        spec = loaded.resolve(model)
        store = open_state(loaded)
        try:
            versions = store.schema_versions(loaded.env, spec.name)
        finally:
            store.close()
    if not versions:
        click.echo(
            f"no schema versions recorded for '{spec.name}' in env {loaded.env} yet (run it first)"
        )
        return
    table = Table(title=f"schema history of {spec.name} [{loaded.env}]", title_justify="left")
    for column in ("version", "created", "run", "columns", "change"):
        table.add_column(column)
    for version in versions:
        when = dt.datetime.fromtimestamp(version.created_at).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            str(version.version),
            when,
            (version.run_id or "")[:8],
            ", ".join(f"{c} {t}" for c, t in version.columns),
            version.change or "",
        )
    make_console().print(table)


@schema.command("diff")
@click.argument("model")
@click.option("--from", "from_version", type=int, default=None, help="Older version number.")
@click.option("--to", "to_version", type=int, default=None, help="Newer version (default: latest).")
@click.option("--env1", default=None, help="Compare the latest version in this environment ...")
@click.option("--env2", default=None, help="... with the latest version in this one.")
@click.option("--project", "-p", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--env", "-e", default=None)
@click.pass_context
def diff(
    ctx: click.Context,
    model: str,
    from_version: int | None,
    to_version: int | None,
    env1: str | None,
    env2: str | None,
    project: Path | None,
    env: str | None,
) -> None:
    """Show what changed in MODEL's columns between two versions or two environments."""
    from interlace.opening import open_state

    from interlace_cli.common import fail, handle_errors

    loaded = _load(ctx, project, env)
    with handle_errors():
        spec = loaded.resolve(model)
        store = open_state(loaded)
    try:
        if env1 or env2:
            if not (env1 and env2):
                fail("--env1 and --env2 go together", code=2)
            left_versions = store.schema_versions(env1, spec.name)
            right_versions = store.schema_versions(env2, spec.name)
            if not left_versions or not right_versions:
                missing = env1 if not left_versions else env2
                fail(f"no schema recorded for '{spec.name}' in env {missing}: run it there first")
            left, right = left_versions[-1], right_versions[-1]
            title = f"{spec.name}: {env1} v{left.version} -> {env2} v{right.version}"
        else:
            versions = {v.version: v for v in store.schema_versions(loaded.env, spec.name)}
            if not versions:
                fail(f"no schema versions recorded for '{spec.name}' yet: run it first")
            newest = max(versions)
            to_number = to_version or newest
            from_number = from_version or max(1, to_number - 1)
            for number in (from_number, to_number):
                if number not in versions:
                    fail(
                        f"'{spec.name}' has no schema version {number} (versions 1..{newest})",
                        code=2,
                    )
            left, right = versions[from_number], versions[to_number]
            title = f"{spec.name}: v{left.version} -> v{right.version}"
    finally:
        store.close()
    from interlace.schema_diff import diff_columns

    click.echo(title)
    changes = diff_columns(left.columns, right.columns)
    colours = {"added": "green", "changed": "yellow", "removed": "red"}
    for change in changes:
        click.secho(f"  {change}", fg=colours[change.kind])
    if not changes:
        click.echo("  (no differences)")
