"""The OpenAPI document's route and the interactive docs page, served without internet.

The page is Swagger UI (5.x, which reads OpenAPI 3.1) from the ``openapi-ui-bundles``
distribution: its files are served from the installed package, never from a CDN, and the online
validator badge is off. Example::

    docs_router(lambda: document).add_to(app)   # GET /api/openapi.json and /api/docs
"""

from __future__ import annotations

import functools
import html
from typing import TYPE_CHECKING, Any

from aiohttp import web

from interlace_http.errors import not_found
from interlace_http.routing import Router

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
  <link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{assets}/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: {document},
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null,
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout"
    }});
  </script>
</body>
</html>
"""


@functools.cache
def _assets_folder() -> Path:
    from openapi_ui_bundles import swagger_ui

    return swagger_ui.static_path


def docs_router(
    document: Callable[[], dict[str, Any]],
    *,
    openapi_path: str = "/api/openapi.json",
    docs_path: str = "/api/docs",
    title: str = "API docs",
) -> Router:
    """Routes for the OpenAPI document (``document()`` builds it) and the docs page; both are
    public (a person reads them before having a key)."""
    router = Router(tags=["docs"])
    cached: list[dict[str, Any]] = []

    @router.get(openapi_path, public=True, summary="This API's OpenAPI 3.1 document")
    async def openapi_document(request: web.Request) -> web.StreamResponse:
        if not cached:
            cached.append(document())
        return web.json_response(cached[0])

    @router.get(docs_path, public=True, content_type="text/html", include_in_schema=False)
    async def docs_page(request: web.Request) -> web.StreamResponse:
        """The interactive API documentation."""
        name = docs_path.rstrip("/").rsplit("/", 1)[-1]
        page = PAGE.format(
            title=html.escape(title),
            assets=f"{name}/assets",
            document=f'"{html.escape(openapi_path)}"',
        )
        return web.Response(text=page, content_type="text/html")

    @router.get(
        docs_path.rstrip("/") + "/assets/{asset}",
        public=True,
        content_type="application/octet-stream",
        include_in_schema=False,
    )
    async def docs_asset(request: web.Request, asset: str) -> web.StreamResponse:
        """A file of the docs page (Swagger UI), from the installed package."""
        if asset not in ASSETS:
            raise not_found(f"no docs asset '{asset}'")
        body = (_assets_folder() / asset).read_bytes()
        response = web.Response(body=body, content_type=ASSETS[asset])
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    return router
