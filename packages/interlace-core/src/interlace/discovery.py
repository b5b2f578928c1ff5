"""How a command finds the ``interlace serve`` of its project: the server's discovery file.

A server writes ``.interlace/server-<env>.json`` in the project folder while it serves
(readable by the file's owner only) and removes it when it stops::

    {"url": "http://127.0.0.1:8484", "pid": 4242, "host": "build-1", "env": "dev",
     "project": "shop", "token": "il_3f9a0c1b2d4e_...", "key_id": "3f9a0c1b2d4e",
     "started_at": 1718000000.0}

``token`` is an API key with the ``execute`` scope (which implies ``read``) that the server
made for the command line of this machine (see :mod:`interlace_service.discovery`, which writes
the file). A file whose process is gone (killed) or that was written on another host is
ignored: a stale file never sends a command to a dead server.

The reader lives in core so every distribution can find a running server without importing
the service (``interlace run`` submits runs to it, ``interlace stream list`` asks it for adapter
health). It imports nothing heavy. Example::

    info = read_discovery(project.root, project.env)
    if info is not None:
        print("served at", info.url)
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

STATE_DIR = ".interlace"


@dataclass(frozen=True, kw_only=True)
class ServerInfo:
    """What a running server tells the command line about itself."""

    url: str
    pid: int
    host: str
    env: str
    project: str
    token: str | None
    key_id: str | None
    started_at: float


def discovery_path(root: Path, env: str) -> Path:
    """The discovery file of the server of ``root`` in ``env``."""
    return Path(root) / STATE_DIR / f"server-{env}.json"


def read_discovery(root: Path, env: str) -> ServerInfo | None:
    """The server serving ``root`` in ``env`` on this host, or None (no file, unreadable, its
    process gone, another host)."""
    path = discovery_path(root, env)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        info = ServerInfo(**data)
    except (OSError, ValueError, TypeError):
        return None
    if info.host != socket.gethostname() or not process_alive(info.pid):
        return None
    return info


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (this one always does)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
