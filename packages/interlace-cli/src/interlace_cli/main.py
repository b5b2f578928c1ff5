"""The `interlace` command. Heavy modules are imported inside commands so `--help` is instant."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from interlace_cli import __version__
from interlace_cli.common import (
    State,
    env_option,
    fail,
    handle_errors,
    project_option,
    state_of,
)

if TYPE_CHECKING:
    from interlace.project import Project


class InterlaceGroup(click.Group):
    """The `interlace` group: built-in commands, plus those that installed distributions add
    through the ``interlace.hooks`` entry points (loaded only when a name is not built in, or
    when the commands are listed, so `interlace run` never pays for them)."""

    _extensions: dict[str, click.Command] | None = None

    def extensions(self) -> dict[str, click.Command]:
        if self._extensions is None:
            from interlace.errors import InterlaceError
            from interlace.hooks import cli_commands

            try:
                found = cli_commands()
            except InterlaceError as exc:
                fail(str(exc))
            self._extensions = {}
            for command in found:
                if command.name and command.name not in self.commands:
                    self._extensions.setdefault(command.name, command)
        return self._extensions

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self.extensions().get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.extensions()})


@click.group(cls=InterlaceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="interlace")
@project_option
@env_option
@click.pass_context
def cli(ctx: click.Context, project: Path | None, env: str | None) -> None:
    """Interlace: Python/SQL data pipelines from ingestion to marts."""
    ctx.obj = State(project or Path.cwd(), env)


@cli.command()
@click.argument("name")
@click.option("--force", is_flag=True, help="Write into an existing non-empty folder.")
@click.option(
    "--from-dbt",
    "from_dbt",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Convert the dbt project in this folder (models, seeds, tests, snapshots, sources).",
)
def init(name: str, force: bool, from_dbt: Path | None) -> None:
    """Create a new project folder NAME with example models that run as created.

    With --from-dbt PATH, NAME is made from the dbt project at PATH instead; what could not be
    converted is listed, with file and line, in NAME/CONVERSION.md.
    """
    target = Path(name)
    here = target.resolve() == Path.cwd().resolve()
    if from_dbt is not None:
        from interlace_cli.from_dbt import REPORT_FILE, convert

        if force:
            fail(
                "--force cannot be used with --from-dbt: the project is converted into a new folder"
            )
        with handle_errors():
            report = convert(from_dbt, target)
        click.echo(
            f"Converted the dbt project '{report.project}' into {target}: {report.summary()}."
        )
        if report.issues or report.unconverted:
            click.echo(
                f"{len(report.issues)} item(s) not converted or converted with a difference: "
                f"see {target / REPORT_FILE}"
            )
        click.echo("Next: interlace run" if here else f"Next: cd {target} && interlace run")
        return
    from interlace_cli.scaffold import create_project

    with handle_errors():
        created = create_project(target, force=force)
    click.echo(f"Created project '{target.resolve().name}' in {target} ({len(created)} files).")
    click.echo("Next: interlace run" if here else f"Next: cd {target} && interlace run")


@cli.command()
@click.argument("selection", nargs=-1)
@click.option("--exclude", "-x", multiple=True, help="Selector to leave out (repeatable).")
@click.option("--force", "-f", is_flag=True, help="Run selected models even if nothing changed.")
@click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    default=None,
    help="Parallel models (default: executor.max_workers).",
)
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Rebuild the selected tables from scratch (incremental models reprocess everything).",
)
@click.option(
    "--since", default=None, help="Backfill: reprocess cursor rows from this value (inclusive)."
)
@click.option("--until", default=None, help="Process cursor rows before this value (exclusive).")
@click.option(
    "--window", default=None, help="Split --since..--until into runs of this size (1d, 6h)."
)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Show full tracebacks of failed models, and each unchanged model on its own line.",
)
@click.option(
    "--lock-timeout",
    default="10m",
    show_default=True,
    help="How long a model waits for a table another run is writing (30s, 10m, 1h).",
)
@click.option(
    "--no-wait",
    is_flag=True,
    help="Fail at once when another run is writing a table (or the database file).",
)
@click.option(
    "--state-env",
    default=None,
    help="Environment that state:modified / state:new selectors compare with.",
)
@click.option(
    "--quality-only",
    is_flag=True,
    help="Run the declared quality checks on the existing tables without rebuilding them.",
)
@project_option
@env_option
@click.pass_context
def run(
    ctx: click.Context,
    selection: tuple[str, ...],
    exclude: tuple[str, ...],
    force: bool,
    workers: int | None,
    full_refresh: bool,
    since: str | None,
    until: str | None,
    window: str | None,
    verbose: bool,
    lock_timeout: str,
    no_wait: bool,
    quality_only: bool,
    state_env: str | None,
    project: Path | None,
    env: str | None,
) -> None:
    """Run models. SELECTION: NAME, +NAME (with ancestors), NAME+ (with descendants), tag:X.

    Models whose definition and inputs did not change since their last run are skipped (the
    reason is printed); --force runs them anyway. Two runs never write one table at once: a
    model waits for a table another run is writing (--lock-timeout, --no-wait). --quality-only runs the selected models'
    quality checks (both severities) on their tables as they are; it exits 1 when an error
    check fails.
    """
    from interlace_cli.progress import run_with_progress

    wait = 0.0 if no_wait else _lock_timeout(lock_timeout)
    state = state_of(ctx, project, env)
    loaded = state.load()
    warn_if_new_environment(loaded)
    if state_env is not None or any(s.strip("+").startswith("state:") for s in selection):
        selection = _state_selection(loaded, selection, exclude, state_env)
        exclude = ()
    if quality_only:
        _quality_only(
            loaded, selection, exclude, workers, force, full_refresh, since, until, window
        )
    from interlace_cli.remote import run_on_server

    remote = run_on_server(  # `interlace serve` holds this project: it runs there
        loaded,
        list(selection),
        list(exclude),
        force=force,
        workers=workers,
        full_refresh=full_refresh,
        verbose=verbose,
        since=since,
        until=until,
        window=window,
        lock_timeout=wait,
    )
    if remote is not None:
        sys.exit(remote)
    with handle_errors():
        code = run_with_progress(
            loaded,
            list(selection),
            list(exclude),
            force=force,
            workers=workers,
            full_refresh=full_refresh,
            verbose=verbose,
            since=since,
            until=until,
            window=window,
            lock_timeout=wait,
        )
    sys.exit(code)


def _state_selection(
    project: Project, selection: tuple[str, ...], exclude: tuple[str, ...], state_env: str | None
) -> tuple[str, ...]:
    """``state:`` selectors resolved to the model names they choose (nothing: exit 0)."""
    from interlace.state_selection import select_with_state

    with handle_errors():
        names = select_with_state(project, list(selection), list(exclude), state_env=state_env)
    if not names:
        click.echo(f"nothing to run: no model changed since '{state_env}' last ran")
        sys.exit(0)
    return tuple(names)


def _lock_timeout(text: str) -> float:
    """``--lock-timeout``: a duration (``10m``) or seconds (``0`` waits not at all)."""
    from interlace.durations import parse_duration

    try:
        seconds = float(text)
    except ValueError:
        try:
            return parse_duration(text).total_seconds()
        except ValueError as exc:
            fail(f"--lock-timeout: {exc}")
    if seconds < 0:
        fail("--lock-timeout: it cannot be negative (0 fails at once, like --no-wait)")
    return seconds


def warn_if_new_environment(project: Project) -> None:
    """A name without an overlay that nothing ran in is often a typo: say so before a run
    builds that environment's databases from nothing."""
    import difflib

    from interlace.environments import known_environments

    with handle_errors():
        known = known_environments(project)
    env = project.env
    if env in known:
        return
    close = difflib.get_close_matches(env, known, n=1)
    click.secho(
        f"warning: environment '{env}' is new (no config.{env}.yaml overlay, nothing ran in it "
        "yet): this run builds its databases from nothing"
        + (f"; did you mean '{close[0]}'?" if close else "")
        + f"\n  known environments: {', '.join(known)} (list them in `environments:` in the "
        "config to make any other name an error)",
        fg="yellow",
        err=True,
    )


def _quality_only(
    loaded: Project,
    selection: tuple[str, ...],
    exclude: tuple[str, ...],
    workers: int | None,
    *building: object,
) -> NoReturn:
    """`run --quality-only`: check the existing tables; options that build are refused."""
    from interlace_cli.console import make_console
    from interlace_cli.quality import check_with_output

    flags = ("--force", "--full-refresh", "--since", "--until", "--window")
    given = [flag for flag, value in zip(flags, building, strict=True) if value]
    if given:
        fail(f"--quality-only checks the existing tables; it cannot be combined with {given[0]}")
    with handle_errors():
        code = check_with_output(
            loaded, make_console(), list(selection), list(exclude), workers=workers
        )
    sys.exit(code)


@cli.command()
@click.argument("model", required=False)
@click.option("--no-check", is_flag=True, help="Do not test whether connections are reachable.")
@project_option
@env_option
@click.pass_context
def info(
    ctx: click.Context, model: str | None, no_check: bool, project: Path | None, env: str | None
) -> None:
    """Show the project (connections, models) or one MODEL in detail."""
    from interlace_cli.info import show_model, show_project

    loaded = state_of(ctx, project, env).load()
    with handle_errors():
        if model:
            show_model(loaded, model)
        else:
            show_project(loaded, check=not no_check)


@cli.command("config")
@click.option("--list", "list_envs", is_flag=True, help="Only list the environments.")
@project_option
@env_option
@click.pass_context
def config_cmd(ctx: click.Context, list_envs: bool, project: Path | None, env: str | None) -> None:
    """List environments and print the merged, secret-masked config of one."""
    import yaml
    from interlace.config import list_environments, load_config, masked_config

    state = state_of(ctx, project, env)
    root = state.project_path.resolve()
    with handle_errors():
        envs = list_environments(root)
        loaded = load_config(root, state.env)
    envs = sorted({*envs, *(loaded.config.environments.names or ())})
    click.echo(f"environments: {', '.join(envs)}")
    if list_envs:
        return
    click.echo(f"# environment: {loaded.env}")
    click.echo(f"# files: {', '.join(str(f.relative_to(root)) for f in loaded.files)}")
    click.echo(yaml.safe_dump(masked_config(loaded.config), sort_keys=False).rstrip())


from interlace_cli.dlq import dlq  # noqa: E402 - command groups register after `cli`
from interlace_cli.docs_site import docs  # noqa: E402
from interlace_cli.export import export  # noqa: E402
from interlace_cli.lineage import lineage, plan  # noqa: E402
from interlace_cli.migrate import migrate  # noqa: E402
from interlace_cli.promote import promote  # noqa: E402
from interlace_cli.schema import schema  # noqa: E402
from interlace_cli.testing import test  # noqa: E402

cli.add_command(schema)
cli.add_command(dlq)
cli.add_command(migrate)
cli.add_command(export)
cli.add_command(promote)
cli.add_command(test)
cli.add_command(lineage)
cli.add_command(plan)
cli.add_command(docs)


def main() -> None:
    try:
        cli(prog_name="interlace")
    except KeyboardInterrupt:
        click.secho("\ninterrupted", fg="yellow", err=True)
        sys.exit(130)
    except Exception as exc:
        from interlace.errors import InterlaceError

        if isinstance(exc, InterlaceError):  # one a command let through: still for people
            fail(str(exc))
        raise


if __name__ == "__main__":
    main()
