"""`interlace lineage` and `interlace plan`: column lineage, and what a run would do."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from interlace_cli.common import env_option, handle_errors, project_option, state_of

if TYPE_CHECKING:
    from interlace.lineage import ModelLineage
    from interlace.plan import Plan


@click.command("lineage")
@click.argument("model")
@click.option("--column", "-c", default=None, help="Trace one column (else every column).")
@click.option("--upstream", "direction", flag_value="upstream", help="Only what it reads.")
@click.option("--downstream", "direction", flag_value="downstream", help="Only what reads it.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["tree", "json", "dot"]),
    default="tree",
    show_default=True,
)
@project_option
@env_option
@click.pass_context
def lineage(
    ctx: click.Context,
    model: str,
    column: str | None,
    direction: str | None,
    fmt: str,
    project: Path | None,
    env: str | None,
) -> None:
    """Show the column lineage of MODEL: where each column comes from and what reads it.

    SQL models are traced with sqlglot; Python models returning an ibis expression are traced
    from the SQL recorded at their last run; other Python models declare `sources` in fields.
    """
    from interlace.opening import has_state, open_state
    from interlace.project_lineage import lineage_data, project_lineage, require_column

    loaded = state_of(ctx, project, env).load()
    with handle_errors():
        spec = loaded.resolve(model)
        store = open_state(loaded) if has_state(loaded) else None
        try:
            found = project_lineage(loaded, store)
        finally:
            if store is not None:
                store.close()
        own = found[spec.name]
        columns = [require_column(own, column).name] if column else [c.name for c in own.columns]
    data = lineage_data(found, spec.name, columns, direction)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
    elif fmt == "dot":
        click.echo(to_dot(data))
    else:
        _print_tree(own, data)


def to_dot(data: dict[str, Any]) -> str:
    """Graphviz DOT of the lineage data: one node per ``model.column``, edges as read."""
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    for a, b in data["edges"]:
        lines.append(f"  {json.dumps(a)} -> {json.dumps(b)};")
    lines.append("}")
    return "\n".join(lines)


def _print_tree(own: ModelLineage, data: dict[str, Any]) -> None:
    from rich.tree import Tree

    from interlace_cli.console import make_console

    title = f"{data['model']} ({own.status}, {own.origin})"
    if own.reason:
        title += f": {own.reason}"
    tree = Tree(title)
    for column in data["columns"]:
        kind = f" {column['type']}" if column.get("type") else ""
        node = tree.add(f"[bold]{column['name']}[/bold]{kind} [dim]{column['transform'] or ''}[/]")
        if column.get("description"):
            node.add(f"[italic]{column['description']}[/italic]")
        if "upstream" in column:
            ups = node.add("upstream") if column["upstream"] else node.add("upstream: (none)")
            for up in column["upstream"]:
                ups.add(f"{'  ' * (up['depth'] - 1)}{up['model']}.{up['column']}")
        if "downstream" in column:
            downs = (
                node.add("downstream") if column["downstream"] else node.add("downstream: (none)")
            )
            for down in column["downstream"]:
                downs.add(f"{'  ' * (down['depth'] - 1)}{down['model']}.{down['column']}")
    make_console().print(tree)


@click.command("plan")
@click.argument("selection", nargs=-1)
@click.option("--exclude", "-x", multiple=True, help="Selector to leave out (repeatable).")
@click.option("--force", "-f", is_flag=True, help="Plan as if `run --force`.")
@click.option("--full-refresh", is_flag=True, help="Plan as if `run --full-refresh`.")
@click.option("--since", default=None, help="Plan a backfill window from this value.")
@click.option("--until", default=None, help="... up to this value.")
@click.option("--state-env", default=None, help="Environment state: selectors compare with.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--fail-on-breaking",
    is_flag=True,
    help="Exit 2 when the plan has a breaking change or a change a schema_mode refuses (CI).",
)
@project_option
@env_option
@click.pass_context
def plan(
    ctx: click.Context,
    selection: tuple[str, ...],
    exclude: tuple[str, ...],
    force: bool,
    full_refresh: bool,
    since: str | None,
    until: str | None,
    state_env: str | None,
    fmt: str,
    fail_on_breaking: bool,
    project: Path | None,
    env: str | None,
) -> None:
    """Show what `interlace run SELECTION` would do, and what the changes break.

    Each model will run, may run (only if an upstream writes new data) or will be skipped,
    with the reason; its predicted schema change; and breaking changes (removed or renamed
    column, narrowing type, key change) with the downstream columns they break.
    """
    from interlace.plan import plan_project

    loaded = state_of(ctx, project, env).load()
    with handle_errors():
        result = plan_project(
            loaded,
            list(selection),
            list(exclude),
            force=force,
            full_refresh=full_refresh,
            since=since,
            until=until,
            state_env=state_env,
        )
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print_plan(result)
    refused = [m for m in result.models if m.schema_error]
    if fail_on_breaking and (result.breaking or refused):
        if fmt != "json":
            click.secho(
                f"{len(result.breaking)} breaking change(s), {len(refused)} refused by a "
                "schema_mode: failing (--fail-on-breaking)",
                fg="red",
                err=True,
            )
        sys.exit(2)


_ACTIONS = {"run": ("will run", "green"), "may_run": ("may run", "yellow"), "skip": ("skip", "dim")}


def _print_plan(result: Plan) -> None:
    from rich.table import Table

    from interlace_cli.console import make_console

    console = make_console()
    table = Table(title=f"plan [{result.env}]", title_justify="left")
    for column in ("model", "action", "why", "schema change"):
        table.add_column(column)
    for item in result.models:
        label, style = _ACTIONS[item.action]
        changes = ", ".join(str(c) for c in item.schema_changes)
        if not item.schema_known:
            changes = "(unknown)"
        table.add_row(item.model, f"[{style}]{label}[/]", item.reason, changes)
    console.print(table)
    summary = result.to_dict()["summary"]
    console.print(
        f"{summary['run']} will run, {summary['may_run']} may run, {summary['skip']} skipped"
    )
    for change in result.breaking:
        console.print(f"[red]breaking[/red] {change.model}: {change.detail}")
        for affected in change.affected:
            where = f"{affected.model}.{affected.column}" if affected.column else affected.model
            console.print(f"    breaks {where}")
    for item in result.models:
        if item.schema_error:
            console.print(f"[red]will fail[/red] {item.model}: {item.schema_error}")
    if not result.models:
        console.print("nothing selected (no state: selector matched a changed model)")
