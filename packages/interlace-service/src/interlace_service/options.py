"""How one ``interlace serve`` process behaves: what the command line sets.

Example::

    ServiceOptions(port=0, concurrency=4, on_conflict="reject", grace=30.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OnConflict = Literal["queue", "reject"]

DEFAULT_PORT = 8484


@dataclass(frozen=True, kw_only=True)
class ServiceOptions:
    """Settings of one server.

    ``on_conflict``: what a run request for models that a queued or running request already
    targets gets: ``queue`` (it waits its turn, the default) or ``reject`` (409).
    ``concurrency``: runs this server executes at once (requests for disjoint models).
    ``lease``: seconds a taken request is held without renewal (renewed every third of it); a
    server that stops without finishing a run loses it after this long.
    ``grace``: on SIGTERM, seconds running runs get to finish before they are cancelled.
    ``poll``: seconds between looks at the queue, cancel flags and the event log.
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    ui: bool = True
    scheduler: bool = True
    reload: bool = False
    on_conflict: OnConflict = "queue"
    concurrency: int = 2
    lease: float = 30.0
    grace: float = 60.0
    poll: float = 0.25
    max_body: int = 1024 * 1024
