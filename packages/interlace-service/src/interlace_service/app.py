"""The ``interlace serve`` application: the core API, routers of installed extensions
(``interlace.hooks`` → ``service_routers()``), the OpenAPI document and docs, and the UI.

Example (tests embed it like this)::

    service = Service.load("path/to/project", options=ServiceOptions(port=0))
    app = create_app(service)            # starts the run worker and event feed with the app
    web.run_app(app)
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from interlace_http.app import create_http_app
from interlace_http.sessions import SECURITY_SCHEMES

from interlace_service import __version__
from interlace_service.api import core_routers
from interlace_service.logs import access_middleware
from interlace_service.service import SERVICE, Service
from interlace_service.ui import ui_folder, ui_router

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from aiohttp import web
    from interlace_http.routing import Router
    from interlace_http.settings import SecuritySettings

DESCRIPTION = (
    "The Interlace service: runs (queued, cancellable), models, graph, quality results, dead "
    "letters and a live event stream of one project. Errors are "
    '`{"error": {"code", "message", "details", "request_id"}}`; every response carries '
    "`X-Request-ID`."
)


def extension_routers() -> list[Router]:
    """Routers that installed distributions add (the scheduler, streams, lineage, ...)."""
    from interlace.hooks import service_routers

    return list(service_routers())


def extensions() -> list[Callable[[web.Application, Service], None]]:
    """What installed distributions run inside the server (``service_extensions()`` hooks:
    stream ingestion adds its runtime this way)."""
    from interlace.hooks import service_extensions

    return list(service_extensions())


def create_app(
    service: Service,
    *,
    routers: Iterable[Router] | None = None,
    security: SecuritySettings | None = None,
    ui: Path | None = None,
    manage: bool = True,
) -> web.Application:
    """The application of ``service``.

    ``routers`` replaces the extension routers (default: those of the installed
    distributions). ``security`` installs authentication, rate limits and CORS
    (:mod:`interlace_http.security`) and declares it in the OpenAPI document (security
    schemes; public routes need none); without it the API is open. ``ui`` is a built UI folder
    (default: the installed build, unless ``service.options.ui`` is off). With ``manage``, the
    app starts the service's run worker when it starts and drains it when it stops, and runs
    the extensions of installed distributions (:func:`extensions`: stream ingestion).
    """
    served = core_routers()
    served += extension_routers() if routers is None else list(routers)
    mounted = {route.spec.path for router in served for route in router.routes}
    if security is not None and "/api/v1/auth/session" not in mounted:
        from interlace_http.sessions import session_router

        served.append(session_router())  # browsers sign in: a key for a session cookie
    folder = ui_folder(ui) if service.options.ui else None
    if folder is not None:
        served.append(ui_router(folder))
    secured = security is not None and security.auth.enabled
    app = create_http_app(
        served,
        title="Interlace",
        version=__version__,
        description=DESCRIPTION,
        max_body=service.options.max_body,
        security_schemes=SECURITY_SCHEMES if secured else None,
        public_paths=security.auth.public_paths if security is not None else (),
    )
    # outermost: they see the final status of every request, refusals and errors included
    app.middlewares.insert(0, access_middleware())
    app.middlewares.insert(0, service.metrics.middleware())
    if security is not None:
        from interlace_http.security import install_security

        install_security(app, security, service.store)
    app[SERVICE] = service
    if manage:  # what installed distributions run inside the server (stream ingestion)
        for extend in extensions():
            extend(app, service)

    async def start(app: web.Application) -> None:
        if manage:
            await asyncio.to_thread(service.start)
        await service.feed.start()
        if service.scheduler is not None:
            service.scheduler.launch()  # fires schedules (interlace_service.scheduler)

    async def close_streams(app: web.Application) -> None:
        if service.scheduler is not None:
            await service.scheduler.halt()
        await service.feed.stop()

    async def stop(app: web.Application) -> None:
        if manage:
            await asyncio.to_thread(service.stop)
        from interlace_service.telemetry import flush

        await asyncio.to_thread(flush)  # the spans of the last runs

    app.on_startup.append(start)
    app.on_shutdown.append(close_streams)
    app.on_cleanup.append(stop)
    return app
