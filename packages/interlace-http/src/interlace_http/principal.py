"""Who made a request: the identity the auth middleware attaches for handlers to read.

Example (in a handler)::

    who = principal_of(request)
    requested_by = who.label if who else "anonymous"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from interlace_http.apikeys import SCOPES


@dataclass(frozen=True, kw_only=True)
class Principal:
    """An authenticated caller.

    ``via``: ``key`` (an API key header), ``session`` (the browser session cookie) or ``open``
    (authentication is turned off). ``scopes`` are the effective ones (implied included);
    ``granted`` those the key was made with.
    """

    via: Literal["key", "session", "open"]
    scopes: frozenset[str]
    granted: tuple[str, ...] = ()
    key_id: str | None = None
    name: str | None = None
    session: str | None = None  # digest of the session token, to sign out
    expires_at: float | None = None  # epoch seconds: the key's or session's end, if any

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def label(self) -> str:
        """How logs and run records name the caller: ``key:ci (3f9a0c1b2d4e)``."""
        if self.key_id is None:
            return "open"
        return f"{self.via}:{self.name} ({self.key_id})"


PRINCIPAL = web.RequestKey("interlace.principal", Principal)

# what every request is when authentication is turned off (`auth: {enabled: false}`)
OPEN = Principal(via="open", scopes=frozenset(SCOPES), granted=("admin",))


def principal_of(request: web.Request) -> Principal | None:
    """The caller of ``request`` (``None`` on public routes, which are not authenticated)."""
    return request.get(PRINCIPAL)
