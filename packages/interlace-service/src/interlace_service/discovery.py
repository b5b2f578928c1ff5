"""How ``interlace run`` finds the ``interlace serve`` of its project (the writing side; the
reader, :func:`read_discovery`, is core's :mod:`interlace.discovery`).

A server writes ``.interlace/server-<env>.json`` in the project folder while it serves
(readable by the file's owner only) and removes it when it stops::

    {"url": "http://127.0.0.1:8484", "pid": 4242, "host": "build-1", "env": "dev",
     "project": "shop", "token": "il_3f9a0c1b2d4e_...", "key_id": "3f9a0c1b2d4e",
     "started_at": 1718000000.0}

``token`` is an API key with the ``execute`` scope (which implies ``read``), made by the
server for the command line of this machine: it expires after :data:`LOCAL_KEY_TTL`, the
server replaces it at half that (rewriting the file) and revokes it when it stops. Anyone who
can read the project's ``.interlace`` folder can already change the project, so the file
gives nothing away that the folder does not.

A file whose process is gone (killed) or that was written on another host is ignored: a
stale file never sends a run to a dead server. This module imports nothing heavy: the CLI
reads it before deciding to run locally.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

# the reader lives in core (every distribution finds a server without importing this one)
from interlace.discovery import (
    STATE_DIR,
    ServerInfo,
    discovery_path,
    read_discovery,
)

__all__ = [
    "LOCAL_KEY_TTL",
    "STATE_DIR",
    "ServerInfo",
    "discovery_path",
    "read_discovery",
    "remove_discovery",
    "write_discovery",
]

LOCAL_KEY_TTL = 12 * 3600.0  # seconds


def write_discovery(root: Path, info: ServerInfo) -> Path:
    """Write (atomically, mode 0600) the file of a server that serves ``root``."""
    path = discovery_path(root, info.env)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(asdict(info), handle, indent=2)
    temporary.replace(path)
    return path


def remove_discovery(root: Path, env: str, pid: int | None = None) -> None:
    """Remove the file (only when it is the server ``pid``'s, if given)."""
    path = discovery_path(root, env)
    if pid is not None:
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("pid") != pid:
                return
        except (OSError, ValueError):
            return
    path.unlink(missing_ok=True)
