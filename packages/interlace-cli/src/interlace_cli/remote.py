"""`interlace run` while `interlace serve` serves the same project: submit and follow.

DuckDB allows one writer per database file, and the server may hold it at any moment. So
when a live server for this project and environment is found (its discovery file, see
:mod:`interlace_service.discovery`), the run is submitted to the server's run queue and
followed here over its event stream: the same progress lines, the same summary, the same exit
code as a local run. Ctrl-C cancels the run on the server. The HTTP calls are those of the
public client, :class:`interlace_service.client.Client` (standard library only: nothing here
imports aiohttp).
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interlace.events import Event
    from interlace.project import Project
    from interlace.results import ModelResult, RunResult
    from interlace_service.client import Client
    from interlace_service.schemas import Run
    from rich.console import Console

REQUEST_ENDED = "run.ended"  # the server recorded how the run request ended


class ServerGone(Exception):
    """The server stopped answering while the run was followed."""


def find_server(project: Project) -> Client | None:
    """The client of the live server of the project's environment, or None (then the run is
    local). Without a discovery file nothing more is imported: most runs have no server."""
    from interlace_service.discovery import read_discovery

    if read_discovery(project.root, project.env) is None:
        return None
    from interlace_service.client import Client

    return Client.discover(project.root, project.env)


def run_on_server(
    project: Project,
    selection: list[str],
    exclude: list[str],
    *,
    force: bool,
    workers: int | None,
    full_refresh: bool,
    verbose: bool,
    since: str | None,
    until: str | None,
    window: str | None,
    lock_timeout: float | None,
) -> int | None:
    """Submit the run to the project's server and follow it; the exit code, or None when no
    server serves the project (run locally)."""
    client = find_server(project)
    if client is None or client.server is None:
        return None
    from interlace_service.client import ServiceError, ServiceUnreachable
    from rich.text import Text

    from interlace_cli.common import fail
    from interlace_cli.console import make_console

    console = make_console()
    console.print(
        Text(
            f"interlace serve (pid {client.server.pid}, {client.url}) holds this project: the run is "
            "submitted to it and followed here",
            style="cyan",
        ),
        soft_wrap=True,
    )
    try:
        run = client.trigger_run(
            selection,
            exclude=exclude,
            force=force,
            full_refresh=full_refresh,
            since=since,
            until=until,
            window=window,
            max_workers=workers,
            lock_timeout=lock_timeout,
            reload=True,  # the run uses the model files as they are now, as a local run would
        )
    except ServiceUnreachable as exc:
        fail(f"the server at {client.url} did not take the run: {exc.message}")
    except ServiceError as exc:
        fail(exc.message.removeprefix("POST /api/v1/runs: "))
    return _follow(console, client, project, run, verbose=verbose)


def _follow(console: Console, client: Client, project: Project, run: Run, *, verbose: bool) -> int:
    from interlace_service.client import ServiceError, ServiceUnreachable
    from rich.text import Text

    from interlace_cli.console import fmt_time
    from interlace_cli.progress import ProgressView, print_summary

    run_id = run.id
    console.print(
        Text.assemble(
            ("interlace ", "bold"),
            f"{project.name} ",
            (f"[{project.env}]", "cyan"),
            f"  {len(run.models)} model(s)",
            (f"  run {run_id}", "dim"),
        )
    )
    view = ProgressView(console, len(run.models), verbose=verbose)
    collected: list[Event] = []
    started = time.perf_counter()
    cancelling = False
    while True:
        try:
            _stream(client, run_id, view, collected)
            break
        except KeyboardInterrupt:
            if cancelling:
                return 130
            cancelling = True
            console.print(Text("\ncancelling the run on the server ...", style="yellow"))
            try:
                client.cancel(run_id)
            except ServiceError:
                pass  # it ended meanwhile: the stream says how
        except (ServiceUnreachable, ServerGone) as exc:
            console.print(
                Text(
                    f"lost the server after {fmt_time(time.perf_counter() - started)} ({exc}); "
                    f"the run {run_id} may still be going: `interlace run` again when the "
                    "server is back shows the state",
                    style="red",
                ),
                soft_wrap=True,
            )
            return 1
        finally:
            view.flush()  # the unchanged models held back
    code = print_summary(console, _result(project, run_id, collected), verbose=verbose)
    return 130 if cancelling else code


def _stream(client: Client, run_id: str, view: Any, collected: list[Event]) -> None:
    """Feed the run's events to ``view`` until the server says the request ended.

    ``run.ended`` is the request's last event: the server stores it in the transaction that
    records the request's final status, after every window's own ``run.completed``.
    """
    after = max((event.id or 0 for event in collected), default=0)
    for sent in client.events(run_id=run_id, after=after, reconnect=False):
        if sent.type == REQUEST_ENDED:
            return
        event = _event(sent.data)
        if event is not None:
            collected.append(dataclasses.replace(event, id=sent.id))
            view(event)
    raise ServerGone("the event stream ended")


def _event(data: dict[str, Any]) -> Event | None:
    """The core event an SSE message carries (None for the service's own, e.g. run.queued)."""
    from interlace import events

    kinds = {
        cls.type: cls
        for cls in vars(events).values()
        if isinstance(cls, type) and issubclass(cls, events.Event) and cls is not events.Event
    }
    cls = kinds.get(str(data.get("event")))
    if cls is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)} - {"id"}
    values = {k: v for k, v in data.items() if k in names}
    try:
        return cls(**values)
    except TypeError:
        return None


def _result(project: Project, run_id: str, collected: list[Event]) -> RunResult:
    """The run's result as a local run would return it, from its events."""
    from interlace.events import ModelFailed, ModelFinished, ModelSkipped, RunFinished
    from interlace.results import ModelResult, RunResult

    parts: list[RunResult] = []
    models: dict[str, ModelResult] = {}
    for event in collected:
        if isinstance(event, ModelFinished):
            models[event.model] = ModelResult(
                name=event.model,
                status="success",
                rows=event.rows,
                duration=event.duration,
                materialize=event.materialize,
                strategy=event.strategy,
                message=event.message,
                stats=dict(event.stats),
                attempts=event.attempts,
            )
        elif isinstance(event, ModelFailed):
            models[event.model] = ModelResult(
                name=event.model,
                status="failed",
                duration=event.duration,
                error=event.error,
                error_type=event.error_type,
                location=event.location,
                traceback=event.traceback,
                full_traceback=event.traceback,
                attempts=event.attempts,
            )
        elif isinstance(event, ModelSkipped):
            models[event.model] = ModelResult(
                name=event.model,
                status="cancelled" if event.kind == "cancelled" else "skipped",
                skip_reason=event.reason,
                skip_kind=event.kind,
            )
        elif isinstance(event, RunFinished):
            parts.append(
                RunResult(
                    run_id=event.run_id,
                    status=event.status,
                    env=project.env,
                    duration=event.duration,
                    models=models,
                    error=event.error,
                )
            )
            models = {}
    if not parts:
        return RunResult(run_id=run_id, status="failed", env=project.env, duration=0.0)
    if len(parts) == 1:
        return parts[0]
    last = parts[-1]
    return RunResult(
        run_id=run_id,
        status=last.status,
        env=project.env,
        duration=sum(p.duration for p in parts),
        models=last.models,
        error=last.error,
        windows=tuple(parts),
    )
