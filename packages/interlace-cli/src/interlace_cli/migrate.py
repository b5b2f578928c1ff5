"""`interlace migrate`: run the project's versioned SQL migrations (SPEC §14.1)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from interlace.migrations import MigrationStep, Migrator


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

    from interlace_cli.main import State, fail, handle_errors

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
        outcome = migrator.run(steps)
    for step, seconds in outcome.done:
        click.secho(f"  ✓ {_describe(step, root)}  {seconds * 1000:.0f}ms", fg="green")
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
