"""`interlace promote`: copy models' tables from one environment to another (SPEC §7.4)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from interlace.promote_plan import PromotePlan, PromoteStep


def _describe(step: PromoteStep, plan: PromotePlan) -> str:
    width = max(len(s.relation) for s in plan.steps)
    if step.action == "copy":
        return (
            f"copy  {step.relation:<{width}}  "
            f"{plan.where(plan.source_env, step.source_connection)} -> "
            f"{plan.where(plan.target_env, step.target_connection)}"
        )
    if step.action == "view":
        return f"view  {step.relation:<{width}}  recreated from its definition in {plan.target_env}"
    return f"skip  {step.relation:<{width}}  {step.reason}"


@click.command()
@click.argument("selection", nargs=-1)
@click.option("--from", "from_env", required=True, help="Environment to copy from (e.g. dev).")
@click.option("--to", "to_env", required=True, help="Environment to copy to (e.g. prod).")
@click.option("--exclude", "-x", multiple=True, help="Selector to leave out (repeatable).")
@click.option("--all", "all_models", is_flag=True, help="Promote every model.")
@click.option(
    "--sources-only",
    is_flag=True,
    help="Promote only root models (those reading outside data), of SELECTION or of all.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan, change nothing.")
@click.option("--project", "-p", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.pass_context
def promote(
    ctx: click.Context,
    selection: tuple[str, ...],
    from_env: str,
    to_env: str,
    exclude: tuple[str, ...],
    all_models: bool,
    sources_only: bool,
    dry_run: bool,
    project: Path | None,
) -> None:
    """Copy the tables of the selected models from --from's environment to --to's.

    SELECTION works as in `run` (NAME, +NAME, NAME+, tag:X). Tables are copied inside the
    database engine, all tables of a connection in one transaction; views are recreated from
    their definition in the target environment; ephemeral models are skipped. The target
    environment's state records the copies, so its next run knows them.
    """
    from interlace.promote import promote as promote_models

    from interlace_cli.common import State, handle_errors

    parent: State = ctx.find_root().obj
    root = project or parent.project_path
    with handle_errors():
        result = promote_models(
            root,
            from_env,
            to_env,
            list(selection),
            list(exclude),
            all_models=all_models,
            sources_only=sources_only,
            dry_run=dry_run,
        )
    plan = result.plan
    copies, views = plan.of("copy"), plan.of("view")
    if dry_run:
        click.echo(
            f"would promote {len(copies)} table(s) and {len(views)} view(s) "
            f"from {plan.source_env} to {plan.target_env}:"
        )
        for step in plan.steps:
            click.echo(f"  {_describe(step, plan)}")
        return
    for step in plan.steps:
        if step.action == "copy":
            rows = result.rows.get(step.model, 0)
            count = f"{rows:,} row{'' if rows == 1 else 's'}"
            click.secho(f"  ✓ {_describe(step, plan)}  ({count})", fg="green")
        elif step.action == "view":
            click.secho(f"  ✓ {_describe(step, plan)}", fg="green")
        else:
            click.secho(f"  - {_describe(step, plan)}", fg="yellow")
    click.echo(
        f"promoted {len(copies)} table(s) and {len(views)} view(s) "
        f"from {plan.source_env} to {plan.target_env} in {result.duration:.1f}s"
    )
