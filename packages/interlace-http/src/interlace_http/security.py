"""One call that secures an aiohttp app: CORS, authentication, rate limits, in that order.

Example (a server's app factory)::

    app = web.Application(middlewares=[...request ids and errors...])
    security = install_security(app, settings, store)     # appended: runs inside those
    notice = startup_notice(settings, store)               # log it when the server starts
    app.router.add_routes(...)                             # incl. interlace_http.sessions

Order of the middlewares it appends (outermost first): CORS preflight (browsers send no
credentials with it), authentication and authorization (:mod:`interlace_http.auth`), then
the rate limit (:mod:`interlace_http.ratelimit`: per key once the caller is known, else per
address). CORS response headers are added in ``on_response_prepare``, so every response, even
a refusal or a stream, carries them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from interlace_http.auth import Authenticator, auth_middleware, is_public_path
from interlace_http.cors import CorsPolicy, install_cors
from interlace_http.ratelimit import RateLimiter, rate_limit_middleware

if TYPE_CHECKING:
    from interlace_http.settings import SecuritySettings


@dataclass(frozen=True)
class Security:
    """What :func:`install_security` set up (handlers reach it via :data:`SECURITY`)."""

    settings: SecuritySettings
    authenticator: Authenticator
    limiter: RateLimiter | None
    cors: CorsPolicy


SECURITY = web.AppKey("interlace.security", Security)


def install_security(
    app: web.Application,
    settings: SecuritySettings,
    store: object,
    *,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> Security:
    """Secure ``app`` with ``settings``; API keys and sessions are read from ``store`` (the
    project's state store). ``clock`` (epoch seconds) and ``monotonic`` are for tests."""
    authenticator = Authenticator(store, settings, clock=clock, monotonic=monotonic)
    limiter = (
        RateLimiter(settings.rate_limit, clock=monotonic) if settings.rate_limit.enabled else None
    )
    policy = install_cors(app, settings.cors)
    app.middlewares.append(auth_middleware(authenticator, limiter))
    if limiter is not None:
        app.middlewares.append(rate_limit_middleware(limiter, settings.trusted_proxies))
    security = Security(settings, authenticator, limiter, policy)
    app[SECURITY] = security
    return security


@dataclass(frozen=True)
class RouteAccess:
    """What one route of an app's table needs: ``scope`` ``None`` means public (declared so by
    the route, or its path listed in ``auth.public_paths``); ``declared`` is whether it carries
    route metadata (a route without it needs ``admin``)."""

    method: str
    path: str  # as registered, with its ``{parameters}``
    scope: str | None
    declared: bool


def route_access(app: web.Application, settings: SecuritySettings) -> list[RouteAccess]:
    """Every route of ``app`` and what it needs, in registration order: to log the public
    routes at startup, or to prove in a test that all others refuse bad credentials."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = str(info.get("path") or info.get("formatter") or f"{info.get('prefix', '')}/")
        spec = getattr(route.handler, "__interlace_route__", None)
        scope: str | None = "admin" if spec is None else (None if spec.public else spec.scope)
        if is_public_path(path, settings.auth.public_paths):
            scope = None
        method = "GET" if route.method == "*" else route.method
        found.append(RouteAccess(method, path, scope, spec is not None))
    return found
