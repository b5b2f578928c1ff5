"""An aiohttp application from routers: request ids and JSON errors first, then the caller's
middlewares (auth, rate limits), the routes, the OpenAPI document and the docs page.

Example::

    app = create_http_app([api], title="Interlace", version="0.1.0")
    web.run_app(app)

The document is built from exactly the routers the app serves (those given here, plus the
docs' own ``/api/openapi.json``), the first time it is asked for.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from interlace_http.docs import docs_router
from interlace_http.middleware import install
from interlace_http.openapi import build_openapi
from interlace_http.routing import MAX_BODY, Router
from interlace_http.validation import DEFAULT_MAX_BODY

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from aiohttp.typedefs import Middleware

ROUTERS: web.AppKey[tuple[Router, ...]] = web.AppKey("interlace_http.routers", tuple)


@dataclass(frozen=True)
class ApiDocument:
    """How an app builds its OpenAPI document (``app[DOCUMENT].build()``)."""

    build: Callable[[], dict[str, Any]]


DOCUMENT = web.AppKey("interlace_http.openapi", ApiDocument)


def create_http_app(
    routers: Iterable[Router],
    *,
    title: str,
    version: str,
    description: str | None = None,
    middlewares: Iterable[Middleware] = (),
    max_body: int = DEFAULT_MAX_BODY,
    docs: bool = True,
    security_schemes: Mapping[str, Any] | None = None,
    public_paths: Iterable[str] = (),
    openapi_path: str = "/api/openapi.json",
    docs_path: str = "/api/docs",
) -> web.Application:
    """The application serving ``routers``; see the module docstring."""
    app = web.Application(middlewares=list(middlewares), client_max_size=max_body)
    install(app)
    app[MAX_BODY] = max_body
    served = list(routers)
    public = list(public_paths)

    @functools.cache
    def document() -> dict[str, Any]:
        return build_openapi(
            served,
            title=title,
            version=version,
            description=description,
            security_schemes=security_schemes,
            public_paths=public,
        )

    if docs:
        served.append(
            docs_router(
                document,
                openapi_path=openapi_path,
                docs_path=docs_path,
                title=f"{title} API",
            )
        )
    for router in served:
        router.add_to(app)
    app[ROUTERS] = tuple(served)
    app[DOCUMENT] = ApiDocument(document)
    return app
