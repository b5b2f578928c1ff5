"""The standalone ingestion server (``interlace-stream serve``): the stream routes, a health
route, API keys / rate limits / CORS from ``streaming:`` (the same keys as ``service:``), and
the :class:`~interlace_stream.runtime.StreamRuntime` (logs, committer, triggered runs,
adapters). Example::

    app = create_stream_app(load_project("."))
    web.run_app(app, host="127.0.0.1", port=8765)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web
from interlace_http.app import create_http_app
from interlace_http.routing import Router
from pydantic import BaseModel

from interlace_stream import __version__
from interlace_stream.api import stream_router
from interlace_stream.runtime import StreamRuntime, mount, streaming_settings

if TYPE_CHECKING:
    from interlace.project import Project
    from interlace.state.base import StateStore

    from interlace_stream.settings import StreamingSettings

log = logging.getLogger("interlace.stream.server")


class Health(BaseModel):
    status: str
    streams: int


def health_router() -> Router:
    router = Router("/api/v1", tags=["health"])

    @router.get("/health", public=True, response=Health)
    async def health(request: web.Request) -> Health:
        """Whether the server is up, and how many streams it serves."""
        from interlace_stream.runtime import RUNTIME

        runtime = request.app.get(RUNTIME)
        return Health(status="ok", streams=len(runtime.streams) if runtime else 0)

    return router


def create_stream_app(
    project: Project,
    *,
    settings: StreamingSettings | None = None,
    store: StateStore | None = None,
    runtime: StreamRuntime | None = None,
) -> web.Application:
    """The standalone server's application (see the module docstring)."""
    settings = settings or streaming_settings(project)
    runtime = runtime or StreamRuntime(project, store=store, settings=settings, execute_runs=True)
    app = create_http_app(
        [health_router(), stream_router()],
        title="Interlace streams",
        version=__version__,
        description="Durable event ingestion: a 2xx means the events are fsync'd to disk.",
        max_body=settings.max_body + 1024,
    )
    from interlace_http.auth import startup_notice
    from interlace_http.security import install_security

    install_security(app, settings, runtime.store)
    notice = startup_notice(settings, runtime.store)
    if notice is not None:
        getattr(log, notice.level)(notice.message)
    mount(app, runtime)
    return app


def serve(
    project: Project,
    *,
    host: str | None = None,
    port: int | None = None,
    access_log: bool = False,
) -> None:
    """Run the standalone server until interrupted (Ctrl-C / SIGTERM stop it cleanly).
    ``access_log``: log a line per request (off by default: at thousands of publishes a second
    the log costs more than the publish)."""
    import sys

    # a log thread back from fsync waits for the GIL up to this long while the loop parses
    # requests: a shorter interval hands it over sooner (the publishers are waiting for it)
    sys.setswitchinterval(0.0005)
    settings = streaming_settings(project)
    app = create_stream_app(project, settings=settings)
    web.run_app(
        app,
        host=host or settings.host,
        port=settings.port if port is None else port,
        print=lambda text: log.info(text),
        access_log=logging.getLogger("aiohttp.access") if access_log else None,
    )
