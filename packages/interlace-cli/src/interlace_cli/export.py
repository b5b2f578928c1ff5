"""`interlace export MODEL`: write a model's current table to a file (SPEC §14.2)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("model")
@click.option(
    "--format",
    "-f",
    "file_format",
    type=click.Choice(["csv", "parquet", "json"]),
    default=None,
    help="File format (default: from --to's suffix, else the model's export=, else parquet).",
)
@click.option(
    "--to",
    "to",
    default=None,
    help="File to write, relative to the current folder; {name}, {schema}, {env} work "
    "(default: the model's export path, else exports/{name}.{format} in the project).",
)
@click.option(
    "--connection",
    "connection",
    default=None,
    help="Write to this storage connection (filesystem, sftp, s3); --to is then a path on it.",
)
@click.option("--project", "-p", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--env", "-e", default=None)
@click.pass_context
def export(
    ctx: click.Context,
    model: str,
    file_format: str | None,
    to: str | None,
    connection: str | None,
    project: Path | None,
    env: str | None,
) -> None:
    """Write MODEL's table in the environment to a CSV, Parquet or JSON file."""
    from interlace.export_on_demand import export_model

    from interlace_cli.common import State, handle_errors

    parent: State = ctx.find_root().obj
    loaded = State(project or parent.project_path, env or parent.env).load()
    target = to
    if to is not None and connection is None and not Path(to).is_absolute():
        target = str(Path.cwd() / to)
    with handle_errors():
        spec = loaded.resolve(model)
        written, rows = export_model(
            loaded, spec.name, format=file_format, path=target, connection=connection
        )
    if isinstance(written, str):  # a storage connection's URL
        shown = written
    else:
        try:
            shown = str(written.relative_to(Path.cwd()))
        except ValueError:
            shown = str(written)
    click.echo(f"exported {spec.qualified_name} ({rows:,} rows) to {shown}")
