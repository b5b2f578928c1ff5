"""Build hook: put the built web UI (``apps/ui/dist``) into the wheel as ``interlace_service/ui``.

``pip install interlace-service`` then serves the UI at ``/`` with no node on the machine. Build
the UI first (``cd apps/ui && npm ci && npm run build``); a wheel built without it serves the
API only, and says so here. Set ``INTERLACE_REQUIRE_UI=1`` to make a missing build an error
(release builds).

An sdist carries the built UI as ``ui_dist/``, so a wheel built from the sdist (``pip install``
of the sdist, ``uv build`` without ``--wheel``) has it too, away from the repository.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SDIST_FOLDER = "ui_dist"


class UIBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Adds ``apps/ui/dist`` (when built) to the wheel at ``interlace_service/ui``."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name not in ("wheel", "sdist") or version == "editable":
            return
        root = Path(self.root).resolve()
        packed = root / SDIST_FOLDER  # the UI an sdist carries, when building from one
        dist = packed if packed.is_dir() else root.parents[1] / "apps" / "ui" / "dist"
        if (dist / "index.html").is_file():
            where = "interlace_service/ui" if self.target_name == "wheel" else SDIST_FOLDER
            build_data["force_include"][str(dist)] = where
            return
        message = (
            f"the web UI is not built ({dist} has no index.html): this wheel serves the API "
            "only. Build it with: cd apps/ui && npm ci && npm run build"
        )
        if os.environ.get("INTERLACE_REQUIRE_UI") == "1":
            raise RuntimeError(message)
        self.app.display_warning(message)
