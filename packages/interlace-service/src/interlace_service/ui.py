"""The web UI's static files: served at ``/`` when a built UI is installed.

The UI build (``apps/ui``) lands in ``interlace_service/ui/`` (``index.html`` plus its assets)
when the wheel is built (``hatch_build.py``); a wheel built without it serves the API only. In
the source tree (an editable install) the server serves ``apps/ui/dist`` once ``npm run build``
made it. Paths that are not files of the build get
``index.html`` (the UI routes in the browser), except under ``/api``.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from aiohttp import web
from interlace_http.errors import not_found
from interlace_http.routing import Router

BUILT = Path(__file__).parent / "ui"
# src/interlace_service/ui.py -> the repository root, in a source checkout
WORKSPACE_BUILD = Path(__file__).resolve().parents[4] / "apps" / "ui" / "dist"


def ui_folder(folder: Path | None = None) -> Path | None:
    """The built UI's folder when it has an index.html: ``folder``, else the one installed
    with the package, else (in a source checkout) ``apps/ui/dist``."""
    candidates = [folder] if folder is not None else [BUILT, WORKSPACE_BUILD]
    for found in candidates:
        if (found / "index.html").is_file():
            return found
    return None


def ui_router(folder: Path) -> Router:
    """Public routes serving the files of ``folder`` (``/`` is its index.html)."""
    router = Router(tags=["ui"])
    root = folder.resolve()

    def serve(path: str) -> web.StreamResponse:
        target = (root / path).resolve() if path else root / "index.html"
        if not target.is_relative_to(root):
            raise not_found(f"no file '{path}'")
        if not target.is_file():
            target = root / "index.html"
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        response = web.Response(body=target.read_bytes(), content_type=kind)
        if "/assets/" in f"/{path}":  # hashed file names: cache them
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response

    @router.get("/", public=True, content_type="text/html", include_in_schema=False)
    async def ui_index(request: web.Request) -> web.StreamResponse:
        """The web UI."""
        return serve("")

    @router.get(
        r"/{path:(?!api/).+}",
        public=True,
        content_type="application/octet-stream",
        include_in_schema=False,
    )
    async def ui_file(request: web.Request, path: str) -> web.StreamResponse:
        """A file of the web UI."""
        return serve(path)

    return router
