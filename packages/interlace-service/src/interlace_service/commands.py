"""The commands interlace-service adds to ``interlace``: ``serve`` and ``state prune``.

Light on purpose (the CLI imports this module to list its commands): aiohttp and the service
load inside the commands.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from interlace.project import Project

project_option = click.option(
    "--project",
    "-p",
    "project",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project folder (default: the current folder).",
)
env_option = click.option(
    "--env", "-e", default=None, help="Environment (default: $INTERLACE_ENV or dev)."
)


def _where(ctx: click.Context, project: Path | None, env: str | None) -> tuple[Path, str | None]:
    """The project folder and environment: the command's options, else the group's."""
    parent = ctx.find_root().obj
    root = project or getattr(parent, "project_path", None) or Path.cwd()
    return Path(root), env or getattr(parent, "env", None)


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


def _seconds(text: str, option: str) -> float:
    from interlace.durations import parse_duration

    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8484, show_default=True, help="0: any."
)
@click.option("--no-scheduler", is_flag=True, help="Do not fire scheduled runs.")
@click.option("--no-ui", is_flag=True, help="Serve the API only, not the web UI.")
@click.option("--reload", is_flag=True, help="Load the project again when its files change.")
@click.option(
    "--on-conflict",
    type=click.Choice(["queue", "reject"]),
    default="queue",
    show_default=True,
    help="A run request for models another queued or running run targets: wait, or 409.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Runs executed at once (for disjoint models).",
)
@click.option(
    "--grace",
    default="60s",
    show_default=True,
    help="On SIGTERM, how long running runs may finish before they are cancelled.",
)
@click.option(
    "--lease",
    default="30s",
    show_default=True,
    help="How long a run this server takes stays its own without renewal (renewed every "
    "third of it); when the server dies, another takes the run over after this long.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Logs on standard error: text lines, or one JSON object per line (with run and "
    "request ids).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="The least severe log records written (info includes one access line per request).",
)
@project_option
@env_option
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    no_scheduler: bool,
    no_ui: bool,
    reload: bool,
    on_conflict: str,
    concurrency: int,
    grace: str,
    lease: str,
    log_format: str,
    log_level: str,
    project: Path | None,
    env: str | None,
) -> None:
    """Serve the project: REST API, live events, run queue, API docs and the web UI.

    Runs requested over HTTP (and `interlace run` in this project while the server runs) go
    through the run queue in the state store. SIGTERM drains: no new runs, running ones get
    --grace to finish, then the server exits 0.
    """
    from interlace.errors import InterlaceError

    from interlace_service.logs import configure_logging
    from interlace_service.options import ServiceOptions
    from interlace_service.server import serve as run_server

    configure_logging("json" if log_format == "json" else "text", log_level.upper())
    root, env_name = _where(ctx, project, env)
    options = ServiceOptions(
        host=host,
        port=port,
        ui=not no_ui,
        scheduler=not no_scheduler,
        reload=reload,
        on_conflict="reject" if on_conflict == "reject" else "queue",
        concurrency=concurrency,
        grace=_seconds(grace, "--grace"),
        lease=max(_seconds(lease, "--lease"), 0.5),
    )
    try:
        echo = _log_line if log_format == "json" else _echo
        code = run_server(root, env=env_name, options=options, echo=echo)
    except InterlaceError as exc:
        if log_format == "json":
            _log_line(f"error: {exc}", level="ERROR")
            sys.exit(1)
        _fail(str(exc))
    sys.exit(code)


def _echo(text: str) -> None:
    click.echo(text)
    sys.stdout.flush()


def _log_line(text: str, level: str = "INFO") -> None:
    """With ``--log-format json`` the banner and notices are log records too (one JSON
    object per line, nothing else on the output)."""
    import logging

    logging.getLogger("interlace.service").log(logging.getLevelName(level), text.strip())


@click.group("state")
def state() -> None:
    """The state store: retention of run history and events."""


@state.command("prune")
@click.option(
    "--runs",
    "run_retention",
    default=None,
    help="Keep runs this long (default: state.run_retention, 90d).",
)
@click.option(
    "--events",
    "event_retention",
    default=None,
    help="Keep events this long (default: state.event_retention, 7d).",
)
@project_option
@env_option
@click.pass_context
def prune(
    ctx: click.Context,
    run_retention: str | None,
    event_retention: str | None,
    project: Path | None,
    env: str | None,
) -> None:
    """Forget runs and events older than the retention settings.

    Runs (with their model runs, quality results and finished run requests) older than
    state.run_retention and events older than state.event_retention go; model states,
    watermarks, schema versions and dead letters stay.
    """
    from interlace.errors import InterlaceError
    from interlace.opening import open_state

    root, env_name = _where(ctx, project, env)
    try:
        loaded = _load(root, env_name)
        runs = _seconds(run_retention, "--runs") if run_retention else None
        events = _seconds(event_retention, "--events") if event_retention else None
        config = loaded.config.state
        now = time.time()
        store = open_state(loaded)
        try:
            pruned = store.prune_runs(now - (runs or config.run_retention_seconds))
            forgotten = store.prune_events(now - (events or config.event_retention_seconds))
        finally:
            store.close()
    except InterlaceError as exc:
        _fail(str(exc))
        return
    click.echo(
        f"pruned {pruned.runs} run(s) ({pruned.model_runs} model run(s), "
        f"{pruned.quality_results} quality result(s), {pruned.run_requests} run request(s)) "
        f"and {forgotten} event(s)"
    )


def _load(root: Path, env: str | None) -> Project:
    from interlace.project import load_project

    return load_project(root, env=env)
