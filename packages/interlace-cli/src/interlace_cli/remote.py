"""`interlace run` while `interlace serve` serves the same project: submit and follow.

DuckDB allows one writer per database file, and the server may hold it at any moment. So
when a live server for this project and environment is found (its discovery file, see
:mod:`interlace_service.discovery`), the run is submitted to the server's run queue and
followed here over its event stream: the same progress lines, the same summary, the same exit
code as a local run. Ctrl-C cancels the run on the server. Nothing here imports aiohttp: the
standard library's HTTP client is enough.
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from interlace.events import Event
    from interlace.project import Project
    from interlace.results import ModelResult, RunResult
    from interlace_service.discovery import ServerInfo
    from rich.console import Console

ENDED = ("success", "failed", "cancelled", "killed")
RUN_ENDS = ("run.completed", "run.failed", "run.cancelled")


class ServerGone(Exception):
    """The server stopped answering while the run was followed."""


class _Client:
    def __init__(self, info: ServerInfo) -> None:
        self.info = info
        self.headers = {"Authorization": f"Bearer {info.token}"} if info.token else {}

    def call(
        self, method: str, path: str, body: Any = None, timeout: float = 30
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.info.url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            try:
                return error.code, json.loads(error.read() or b"null")
            except ValueError:
                return error.code, None

    def events(self, run_id: str, after: int) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """``(id, type, data)`` of the run's events after ``after`` (all when 0), and
        ``(0, "", {})`` for each keep-alive comment of an idle stream."""
        query = urllib.parse.urlencode({"run_id": run_id})
        headers = dict(self.headers)
        if after:
            headers["Last-Event-ID"] = str(after)
        request = urllib.request.Request(f"{self.info.url}/api/v1/events?{query}", headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            fields: dict[str, str] = {}
            data: list[str] = []
            while raw := response.readline():
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith(":"):
                    yield (0, "", {})  # a keep-alive: the caller may look at the run again
                    continue
                if line:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "data":
                        data.append(value)
                    else:
                        fields[name] = value
                    continue
                if data:
                    yield (
                        int(fields.get("id", "0")),
                        fields.get("event", ""),
                        json.loads("\n".join(data)),
                    )
                fields, data = {}, []


def find_server(project: Project) -> ServerInfo | None:
    """The live server of the project's environment, or None (then the run is local)."""
    from interlace_service.discovery import read_discovery

    info = read_discovery(project.root, project.env)
    if info is None:
        return None
    try:
        status, health = _Client(info).call("GET", "/api/v1/health", timeout=3)
    except OSError:
        return None  # not answering (starting, stopping): run locally
    if status != 200 or not isinstance(health, dict) or health.get("env") != project.env:
        return None
    return info


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
    info = find_server(project)
    if info is None:
        return None
    from rich.text import Text

    from interlace_cli.common import fail
    from interlace_cli.console import make_console

    console = make_console()
    console.print(
        Text(
            f"interlace serve (pid {info.pid}, {info.url}) holds this project: the run is "
            "submitted to it and followed here",
            style="cyan",
        ),
        soft_wrap=True,
    )
    client = _Client(info)
    body = {
        "select": selection,
        "exclude": exclude,
        "force": force,
        "full_refresh": full_refresh,
        "since": since,
        "until": until,
        "window": window,
        "max_workers": workers,
        "lock_timeout": lock_timeout,
        "reload": True,  # the run uses the model files as they are now, as a local run would
    }
    try:
        status, run = client.call("POST", "/api/v1/runs", body)
    except OSError as exc:
        fail(f"the server at {info.url} did not take the run: {exc}")
    if status != 202:
        error = run.get("error", {}) if isinstance(run, dict) else {}
        fail(str(error.get("message") or f"the server answered HTTP {status}"))
    return _follow(console, client, project, run, verbose=verbose)


def _follow(
    console: Console, client: _Client, project: Project, run: dict[str, Any], *, verbose: bool
) -> int:
    from rich.text import Text

    from interlace_cli.console import fmt_time
    from interlace_cli.progress import ProgressView, print_summary

    run_id = str(run["id"])
    console.print(
        Text.assemble(
            ("interlace ", "bold"),
            f"{project.name} ",
            (f"[{project.env}]", "cyan"),
            f"  {len(run.get('models', []))} model(s)",
            (f"  run {run_id}", "dim"),
        )
    )
    view = ProgressView(console, len(run.get("models", [])))
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
            client.call("POST", f"/api/v1/runs/{run_id}/cancel")
        except (OSError, ServerGone) as exc:
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
    code = print_summary(console, _result(project, run_id, collected), verbose=verbose)
    return 130 if cancelling else code


def _stream(client: _Client, run_id: str, view: Any, collected: list[Event]) -> None:
    """Feed the run's events to ``view`` until the run (every window of it) ended.

    The server publishes a window's end event just before it records the request as finished,
    so after an end event the request's status is read again for a moment; a run with more
    windows goes on streaming, and an idle stream's keep-alives look at the status once more.
    """
    after = max((event.id or 0 for event in collected), default=0)
    ending = False
    for event_id, kind, data in client.events(run_id, after):
        if not kind:
            if ending and _ended(client, run_id, wait=0):
                return
            continue
        event = _event(data)
        if event is not None:
            collected.append(dataclasses.replace(event, id=event_id))
            view(event)
        if kind in RUN_ENDS:
            ending = True
            if _ended(client, run_id, wait=3.0):
                return
        elif kind.startswith("run."):
            ending = False
    raise ServerGone("the event stream ended")


def _ended(client: _Client, run_id: str, wait: float) -> bool:
    """Whether the server recorded the run request as ended (looking for up to ``wait`` s)."""
    deadline = time.monotonic() + wait
    while True:
        status, current = client.call("GET", f"/api/v1/runs/{run_id}")
        if status == 200 and current.get("status") in ENDED:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


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
