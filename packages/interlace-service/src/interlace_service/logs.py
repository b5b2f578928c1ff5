"""The server's logs: text (default) or one JSON object per line (``--log-format json``), with
the run and request they concern, and an access log line per HTTP request.

A JSON line::

    {"timestamp": "2024-06-01T12:00:00.123Z", "level": "INFO", "logger": "interlace.http.access",
     "message": "GET /api/v1/runs/{run_id} 200 3.1 ms", "request_id": "9f0c...",
     "method": "GET", "path": "/api/v1/runs/42", "route": "/api/v1/runs/{run_id}",
     "status": 200, "duration_ms": 3.1, "client": "127.0.0.1"}

``request_id`` is known while a request is handled (the ``X-Request-ID`` the response carries),
``run_id`` while a run executes (the run worker sets it); both ride on context variables, so
every log line written on the way (state store, engines, models) carries them.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
import time
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler, Middleware

LogFormat = Literal["text", "json"]

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "interlace_request_id", default=None
)
RUN_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "interlace_run_id", default=None
)

access_log = logging.getLogger("interlace.http.access")

# extra fields a log call may pass (``log.info(..., extra={...})``) that JSON lines keep
FIELDS = ("method", "path", "route", "status", "duration_ms", "client", "model", "event")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"


class ContextFilter(logging.Filter):
    """Puts the current ``run_id`` and ``request_id`` on every record (and ``context``: the
    same as `` [run_id=... request_id=...]`` for text lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        run_id = getattr(record, "run_id", None) or RUN_ID.get()
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        record.run_id = run_id
        record.request_id = request_id
        parts = [f"run_id={run_id}"] if run_id else []
        if request_id:
            parts.append(f"request_id={request_id}")
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp (UTC, ISO 8601), level, logger, message, the
    run and request ids when known, the access log's fields, and the traceback as text."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created, dt.UTC)
        line: dict[str, Any] = {
            "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("run_id", "request_id", *FIELDS):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(fmt: LogFormat = "text", level: int | str = logging.INFO) -> None:
    """Send every logger's records at ``level`` and above to standard error in ``fmt``
    (replaces handlers an earlier call installed)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT))
    handler.set_name("interlace")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "interlace"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def access_middleware() -> Middleware:
    """Sets the request id for the logs of a request and writes its access log line
    (request id, method, path, route template, status, duration, client address)."""
    from interlace_http.denials import request_id

    from interlace_service.metrics import route_template

    @web.middleware
    async def access(request: web.Request, handler: Handler) -> web.StreamResponse:
        token = REQUEST_ID.set(request_id(request))
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            if access_log.isEnabledFor(logging.INFO):
                elapsed = round((time.perf_counter() - started) * 1000, 2)
                route = route_template(request)
                access_log.info(
                    "%s %s %d %.1f ms",
                    request.method,
                    route,
                    status,
                    elapsed,
                    extra={
                        "method": request.method,
                        "path": request.path,
                        "route": route,
                        "status": status,
                        "duration_ms": elapsed,
                        "client": request.remote,
                    },
                )
            REQUEST_ID.reset(token)

    return access
