"""A Python client of the REST API of ``interlace serve``: list models, trigger, follow and
cancel runs, read the live event stream.

It is synchronous and uses only the standard library's HTTP client (``interlace run`` uses it
to hand a run to the project's server, so it must not import aiohttp). Answers are the
server's own response models (:class:`~interlace_service.schemas.Run`, ...); an error answer
raises :class:`ServiceError` with the server's message, a server that cannot be reached
:class:`ServiceUnreachable`.

Example::

    import os
    from interlace_service.client import Client

    client = Client("http://127.0.0.1:8484", api_key=os.environ["INTERLACE_API_KEY"])
    run = client.trigger_run(["+daily_revenue"], force=True)
    for event in client.events(run_id=run.id):
        print(event.type, event.data.get("model", ""))
        if event.ends_request:
            break
    print(client.run(run.id).status)  # success

The events of :meth:`Client.events` come as :class:`ServerEvent` values, parsed from the
stream by :func:`read_events`.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from interlace.errors import InterlaceError
from interlace_http.sse_reader import read_blocks

from interlace_service.schemas import Run, RunPage, Task, TaskList

if TYPE_CHECKING:
    from interlace_service.api.health import Health
    from interlace_service.api.models import ModelSummary
    from interlace_service.discovery import ServerInfo

ENDED = ("success", "failed", "cancelled", "killed")
"""The statuses of a run that will not change any more."""
RUN_ENDS = ("run.completed", "run.failed", "run.cancelled")
"""The event types that end a run (one window of a window backfill)."""
REQUEST_ENDED = "run.ended"
"""The last event of a run request (after every window's run): its final status is recorded."""


class ServiceError(InterlaceError):
    """The server answered with an error: ``status`` (HTTP), ``code`` (a stable word such as
    ``not_found``), ``details`` and the ``request_id`` to look for in the server's logs."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str = "error",
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.details = details or {}
        self.request_id = request_id
        super().__init__(message, hint=hint)


class ServiceUnreachable(InterlaceError):
    """The server did not answer (not running, wrong address, the connection dropped)."""


@dataclass(frozen=True)
class ServerEvent:
    """One event of ``GET /api/v1/events``: its id in the state store, its type
    (``run.completed``, ``task.failed``, ...; ``""`` for a keep-alive) and its fields."""

    id: int
    type: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ends_run(self) -> bool:
        """Whether the event ends a run (or one window of a window backfill)."""
        return self.type in RUN_ENDS

    @property
    def ends_request(self) -> bool:
        """Whether the event is the last of a run request (``run.ended``: every window of it
        ran, and :meth:`Client.run` shows its final status)."""
        return self.type == REQUEST_ENDED

    @property
    def keepalive(self) -> bool:
        """Whether this is the keep-alive of an idle stream, not an event."""
        return self.type == ""


def read_events(
    lines: Iterable[bytes],
    *,
    keepalives: bool = False,
    on_retry: Callable[[float], object] | None = None,
) -> Iterator[ServerEvent]:
    """The events of a server-sent event stream, read line by line. With ``keepalives``, each
    comment line is yielded as a :attr:`ServerEvent.keepalive`; ``on_retry`` receives the
    reconnection delay (seconds) that a ``retry:`` field asks for.

    >>> stream = [b"retry: 3000\\n", b"\\n", b"id: 7\\n", b"event: run.completed\\n",
    ...           b'data: {"run_id": "r1", "status": "success"}\\n', b"\\n"]
    >>> [(e.id, e.type, e.data["status"]) for e in read_events(stream)]
    [(7, 'run.completed', 'success')]
    >>> [e.keepalive for e in read_events([b": keep-alive\\n"], keepalives=True)]
    [True]
    """
    for block in read_blocks(lines, comments=keepalives):
        if block.comment:
            yield ServerEvent(0, "")
            continue
        retry = block.fields.get("retry", "")
        if retry.isdigit() and on_retry is not None:
            on_retry(int(retry) / 1000)
        if block.data is not None:
            fields = block.fields
            yield ServerEvent(
                int(fields.get("id") or 0), fields.get("event", ""), json.loads(block.data)
            )


class Client:
    """A client of one ``interlace serve``: ``url`` is the server's address, ``api_key`` an
    API key (``interlace apikey create``; ``execute`` scope to trigger and cancel runs, ``read``
    for the rest), sent as ``Authorization: Bearer``; ``timeout`` is in seconds per request.

    Example::

        client = Client("http://127.0.0.1:8484", api_key="il_...")
        names = [m.name for m in client.models(tag="finance")]
        page = client.runs(status="failed", limit=5)
        run = client.wait(client.trigger_run(["orders"]).id)
    """

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.server: ServerInfo | None = None  # set by discover()
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    @classmethod
    def discover(cls, root: str | Path, env: str = "dev", *, timeout: float = 3.0) -> Client | None:
        """The client of the server that serves the project folder ``root`` in ``env`` on this
        machine (with the API key the server made for local use), or None when none answers.

        Example::

            client = Client.discover("examples/quickstart")
            if client is not None:
                print(client.server.pid, client.runs().total)
        """
        from interlace_service.discovery import read_discovery

        info = read_discovery(Path(root), env)
        if info is None:
            return None
        client = cls(info.url, api_key=info.token)
        try:
            health = client._json("GET", "/api/v1/health", timeout=timeout)
        except (ServiceError, ServiceUnreachable):
            return None  # starting or stopping
        if not isinstance(health, dict) or health.get("env") != env:
            return None
        client.server = info
        return client

    # ------------------------------------------------------------------ the API

    def health(self) -> Health:
        """The server's health (needs no API key)."""
        from interlace_service.api.health import Health

        return Health.model_validate(self._json("GET", "/api/v1/health"))

    def models(
        self, *, tag: str | Sequence[str] = (), search: str | None = None
    ) -> list[ModelSummary]:
        """The project's models (with any of the tags ``tag``; whose name or description
        contains ``search``)."""
        from interlace_service.api.models import ModelSummary

        tags = [tag] if isinstance(tag, str) else list(tag)
        data = self._json("GET", "/api/v1/models", query={"tag": tags, "search": search})
        return [ModelSummary.model_validate(item) for item in data["items"]]

    def runs(
        self,
        *,
        status: Literal["running", "success", "failed", "cancelled", "killed"] | None = None,
        model: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> RunPage:
        """A page of the run history, newest first (runs from the API, the scheduler and
        ``interlace run`` alike); ``total`` counts the runs on every page."""
        query = {"status": status, "model": model, "limit": limit, "offset": offset}
        return RunPage.model_validate(self._json("GET", "/api/v1/runs", query=query))

    def trigger_run(
        self,
        select: Sequence[str] = (),
        *,
        exclude: Sequence[str] = (),
        force: bool = False,
        full_refresh: bool = False,
        since: str | None = None,
        until: str | None = None,
        window: str | None = None,
        max_workers: int | None = None,
        lock_timeout: float | None = None,
        reload: bool = False,
        on_conflict: Literal["queue", "reject"] | None = None,
    ) -> Run:
        """Queue a run of the models ``select`` picks (all when empty; selectors as for
        ``interlace run``) and return it (status ``queued``); the options are those of
        ``POST /api/v1/runs``. A run the server refuses raises :class:`ServiceError` (409
        when ``on_conflict="reject"`` and another run targets the same models)."""
        if isinstance(select, str):
            select = [select]
        body: dict[str, Any] = {
            "select": list(select),
            "exclude": list(exclude),
            "force": force,
            "full_refresh": full_refresh,
            "reload": reload,
        }
        optional = {
            "since": since,
            "until": until,
            "window": window,
            "max_workers": max_workers,
            "lock_timeout": lock_timeout,
            "on_conflict": on_conflict,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        return Run.model_validate(self._json("POST", "/api/v1/runs", body=body))

    def run(self, run_id: str) -> Run:
        """One run: its status, what it targets, its counts and error."""
        return Run.model_validate(self._json("GET", f"/api/v1/runs/{_quote(run_id)}"))

    def tasks(self, run_id: str) -> list[Task]:
        """Each model's part in a run (every window's, for a window backfill)."""
        data = self._json("GET", f"/api/v1/runs/{_quote(run_id)}/tasks")
        return TaskList.model_validate(data).items

    def cancel(self, run_id: str) -> Run:
        """Cancel a run: a queued one at once, a running one within a moment (its running
        statements are interrupted). A run that already ended raises :class:`ServiceError`
        (409)."""
        return Run.model_validate(self._json("POST", f"/api/v1/runs/{_quote(run_id)}/cancel"))

    def wait(self, run_id: str, *, timeout: float = 3600.0, poll: float = 0.2) -> Run:
        """The run once it ended (its status one of :data:`ENDED`), asking every ``poll``
        seconds; :class:`TimeoutError` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run.status in ENDED:
                return run
            if time.monotonic() >= deadline:
                raise TimeoutError(f"run {run_id} is still {run.status} after {timeout:g} s")
            time.sleep(poll)

    def events(
        self,
        *,
        run_id: str | None = None,
        types: Sequence[str] = (),
        after: int = 0,
        reconnect: bool = True,
        attempts: int = 5,
        keepalives: bool = False,
    ) -> Iterator[ServerEvent]:
        """The live events of the server (``GET /api/v1/events``), for as long as the caller
        reads them.

        ``run_id`` keeps one run's events (from its start, unless ``after`` is given);
        ``types`` keeps those types or patterns (``run.*``, ``task.failed``); ``after``
        replays the stored events after that id first. When the connection drops or the
        server ends the stream, it reconnects with ``Last-Event-ID`` set to the last event
        seen, so no event is lost or repeated (the server replays from its state store, even
        after a restart); ``attempts`` failed connections in a row raise
        :class:`ServiceUnreachable`. With ``reconnect=False`` the iteration ends with the
        stream. With ``keepalives``, the keep-alive of an idle stream (every 15 s) is yielded
        too, as an event whose :attr:`~ServerEvent.keepalive` is true.

        Example::

            for event in client.events(types=["run.failed", "check.completed"]):
                if event.type == "run.failed" or event.data["status"] != "passed":
                    alert(event.data)
        """
        query = urllib.parse.urlencode(
            {k: v for k, v in {"run_id": run_id, "types": ",".join(types)}.items() if v}
        )
        last = after
        failures = 0
        delays = [1.0]  # the stream's retry: field may change it
        while True:
            headers = {**self._headers, "Accept": "text/event-stream"}
            if last:
                headers["Last-Event-ID"] = str(last)
            request = urllib.request.Request(
                f"{self.url}/api/v1/events" + (f"?{query}" if query else ""), headers=headers
            )
            problem: BaseException | None = None
            try:
                # the server sends a keep-alive every 15 s: a minute of silence is a lost link
                with urllib.request.urlopen(request, timeout=max(self.timeout, 60.0)) as response:
                    lines = iter(response.readline, b"")
                    for event in read_events(lines, keepalives=keepalives, on_retry=delays.append):
                        failures = 0
                        if event.id:
                            last = event.id
                        yield event
            except urllib.error.HTTPError as error:
                raise _error(error, "GET /api/v1/events") from None
            except (OSError, http.client.HTTPException) as error:
                problem = error
            if not reconnect:
                if problem is not None:
                    raise self._unreachable(problem) from problem
                return
            failures += 1
            if failures >= attempts:
                raise self._unreachable(problem or ConnectionError("the event stream ended"))
            time.sleep(delays[-1])

    # ------------------------------------------------------------------ HTTP

    def _json(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """The JSON answer of one request; an error answer raises :class:`ServiceError`."""
        if query:
            pairs = [
                (key, str(item).lower() if isinstance(item, bool) else str(item))
                for key, value in query.items()
                if value is not None
                for item in (value if isinstance(value, list) else [value])
            ]
            if pairs:
                path += "?" + urllib.parse.urlencode(pairs)
        headers = dict(self._headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise _error(error, f"{method} {path.partition('?')[0]}") from None
        except (OSError, http.client.HTTPException) as error:
            raise self._unreachable(error) from error

    def _unreachable(self, error: BaseException) -> ServiceUnreachable:
        return ServiceUnreachable(
            f"the server at {self.url} did not answer: {error}",
            hint="is `interlace serve` running there? It prints its address when it starts",
        )


def _error(error: urllib.error.HTTPError, request: str) -> ServiceError:
    """The :class:`ServiceError` of an error answer (the API's ``{"error": {...}}`` body) to
    ``request`` (``GET /api/v1/runs``)."""
    try:
        payload = json.loads(error.read() or b"null")
    except ValueError:
        payload = None
    body = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(body, dict):
        body = {}
    status = error.code
    message = str(body.get("message") or f"the server answered HTTP {status} {error.reason}")
    hint = None
    if status == 401:
        hint = "pass an API key: Client(url, api_key=...) (`interlace apikey create` makes one)"
    elif status == 403:
        hint = "the API key lacks the scope this needs (`execute` to trigger or cancel runs)"
    return ServiceError(
        f"{request}: {message}",
        status=status,
        code=str(body.get("code") or "error"),
        details=body.get("details") if isinstance(body.get("details"), dict) else {},
        request_id=body.get("request_id") or error.headers.get("X-Request-ID"),
        hint=hint,
    )


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")
