"""Which installed distribution provides a module (for "Provided by ..." notes)."""

from __future__ import annotations

import functools
import json
import sys
from importlib.metadata import distributions, packages_distributions
from pathlib import Path
from urllib.parse import unquote, urlparse


@functools.cache
def _editable() -> dict[Path, str]:
    """Source folder → name of each distribution installed in editable mode (the workspace's
    packages): their RECORD names a .pth file, not the package, so only their
    ``direct_url.json`` tells where they are."""
    found = {}
    for dist in distributions():
        text = dist.read_text("direct_url.json")
        if not text:
            continue
        info = json.loads(text)
        if info.get("dir_info", {}).get("editable") and info.get("url", "").startswith("file:"):
            found[Path(unquote(urlparse(info["url"]).path)).resolve()] = dist.metadata["Name"]
    return found


@functools.cache
def _by_package() -> dict[str, list[str]]:
    return dict(packages_distributions())  # reads every installed RECORD: once per build


def distribution_of(module: str) -> str:
    """The distribution that installs the top-level package of ``module`` (else its name)."""
    top = module.split(".")[0]
    file = getattr(sys.modules.get(top), "__file__", None)
    if file:
        path = Path(file).resolve()
        for folder, name in _editable().items():
            if path.is_relative_to(folder):
                return name
    names = _by_package().get(top, [])
    return names[0] if names else top
