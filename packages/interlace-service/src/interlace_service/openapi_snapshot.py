"""The OpenAPI document the web UI is typed against (``apps/ui/src/api/openapi.json``).

The UI's TypeScript types are generated from a committed copy of this document (``npm run
types`` in ``apps/ui``), so the UI and the API cannot drift apart silently: a test compares the
copy with what this module makes. It covers the service's own routes and the sign-in routes,
not routes that other installed distributions add.

Refresh the copy after changing a route or a response model::

    python -m interlace_service.openapi_snapshot apps/ui/src/api/openapi.json
    cd apps/ui && npm run types
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def ui_openapi() -> dict[str, Any]:
    """The OpenAPI document of the core API and the session routes."""
    from interlace_http.openapi import build_openapi
    from interlace_http.sessions import session_router

    from interlace_service import __version__
    from interlace_service.api import core_routers
    from interlace_service.app import DESCRIPTION

    return build_openapi(
        [*core_routers(), session_router()],
        title="Interlace",
        version=__version__,
        description=DESCRIPTION,
    )


def snapshot_text() -> str:
    """The document as the committed file holds it (2-space JSON, a final newline)."""
    return json.dumps(ui_openapi(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the document to the file named by the only argument (``-``: standard output)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m interlace_service.openapi_snapshot FILE.json", file=sys.stderr)
        return 2
    text = snapshot_text()
    if args[0] == "-":
        sys.stdout.write(text)
    else:
        Path(args[0]).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
