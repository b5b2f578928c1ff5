"""CORS: which web pages on other origins may call the API from a browser.

Nothing is allowed until ``cors.allow_origins`` lists origins. A preflight (``OPTIONS`` with
``Origin`` and ``Access-Control-Request-Method``) is answered here, before authentication
(browsers send no credentials with it): ``204`` with the allowed methods and headers, or ``403``
with the JSON error saying which setting to change. Every other response to an allowed origin
gets ``Access-Control-Allow-Origin`` (and ``-Allow-Credentials``, ``-Expose-Headers``), added
just before its headers are sent, so errors and streamed responses (SSE) carry them too.

Example::

    install_cors(app, CorsSettings(allow_origins=["https://app.example.com"]))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from interlace_http.denials import error_response

if TYPE_CHECKING:
    from aiohttp.typedefs import Middleware

    from interlace_http.settings import CorsSettings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


class CorsPolicy:
    """The decisions of :class:`~interlace_http.settings.CorsSettings` (pure, no I/O)."""

    def __init__(self, settings: CorsSettings) -> None:
        self.settings = settings
        self._any = "*" in settings.allow_origins
        self._origins = {o.lower() for o in settings.allow_origins}
        self._methods = {m.upper() for m in settings.allow_methods}
        self._headers = {h.lower() for h in settings.allow_headers}

    def allows_origin(self, origin: str) -> bool:
        return self._any or origin.lower() in self._origins

    def allow_origin_value(self, origin: str) -> str:
        # with credentials the origin is echoed (browsers refuse `*` then; settings forbid it)
        return "*" if self._any and not self.settings.allow_credentials else origin

    def refused_headers(self, requested: str) -> list[str]:
        names = [h.strip() for h in requested.split(",") if h.strip()]
        return [h for h in names if h.lower() not in self._headers]

    def allows_method(self, method: str) -> bool:
        return method.upper() in self._methods


def is_preflight(request: web.BaseRequest) -> bool:
    return (
        request.method == "OPTIONS"
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    )


def preflight_response(request: web.BaseRequest, policy: CorsPolicy) -> web.StreamResponse:
    """The answer to a preflight request."""
    settings = policy.settings
    origin = request.headers["Origin"]
    method = request.headers["Access-Control-Request-Method"]
    refused_headers = policy.refused_headers(
        request.headers.get("Access-Control-Request-Headers", "")
    )
    problem = None
    if not policy.allows_origin(origin):
        problem = (
            f"cross-origin requests from {origin} are not allowed; add it to "
            "service.cors.allow_origins",
            {"origin": origin, "allowed_origins": settings.allow_origins},
        )
    elif not policy.allows_method(method):
        problem = (
            f"cross-origin {method} requests are not allowed; add it to service.cors.allow_methods",
            {"method": method, "allowed_methods": settings.allow_methods},
        )
    elif refused_headers:
        problem = (
            f"cross-origin requests may not send the header(s) {', '.join(refused_headers)}; "
            "add them to service.cors.allow_headers",
            {"headers": refused_headers, "allowed_headers": settings.allow_headers},
        )
    if problem is not None:
        response = error_response(request, 403, "cors_forbidden", problem[0], details=problem[1])
        response.headers["Vary"] = _PREFLIGHT_VARY
        return response
    headers = {
        "Access-Control-Allow-Origin": policy.allow_origin_value(origin),
        "Access-Control-Allow-Methods": ", ".join(settings.allow_methods),
        "Access-Control-Allow-Headers": ", ".join(settings.allow_headers),
        "Access-Control-Max-Age": str(settings.max_age),
        "Vary": _PREFLIGHT_VARY,
    }
    if settings.allow_credentials:
        headers["Access-Control-Allow-Credentials"] = "true"
    return web.Response(status=204, headers=headers)


def cors_middleware(
    policy: CorsPolicy,
) -> Middleware:
    """Middleware answering preflights (place it before authentication)."""

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_preflight(request):
            return preflight_response(request, policy)
        return await handler(request)

    return cors


def cors_headers(
    policy: CorsPolicy,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An ``on_response_prepare`` callback adding the CORS headers for allowed origins."""
    settings = policy.settings

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get("Origin")
        if origin is None or is_preflight(request):
            return
        _vary(response, "Origin")
        if not policy.allows_origin(origin):
            return
        response.headers["Access-Control-Allow-Origin"] = policy.allow_origin_value(origin)
        if settings.allow_credentials:
            response.headers["Access-Control-Allow-Credentials"] = "true"
        if settings.expose_headers:
            response.headers["Access-Control-Expose-Headers"] = ", ".join(settings.expose_headers)

    return add_headers


def _vary(response: web.StreamResponse, name: str) -> None:
    present = [v.strip() for v in response.headers.get("Vary", "").split(",") if v.strip()]
    if name.lower() not in {v.lower() for v in present}:
        response.headers["Vary"] = ", ".join([*present, name])


def install_cors(app: web.Application, settings: CorsSettings) -> CorsPolicy:
    """Add the preflight middleware (at the end of ``app.middlewares``) and the header hook."""
    policy = CorsPolicy(settings)
    app.middlewares.append(cors_middleware(policy))
    app.on_response_prepare.append(cors_headers(policy))
    return policy
