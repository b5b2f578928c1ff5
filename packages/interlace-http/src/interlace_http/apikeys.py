"""API keys: their format, how they are hashed at rest, and what each scope allows.

A key is ``il_<id>_<secret>``: ``id`` is 12 hex digits, public (shown by ``interlace apikey
list``, used to find the key); ``secret`` is 32 random bytes (base64url). The state store keeps
only the SHA-256 digest of the secret. A slow password hash (bcrypt, scrypt) protects guessable
passwords; a 256-bit random secret cannot be guessed, so one SHA-256 is enough and a key check
costs microseconds, not a password hash per request.

Scopes (granted when the key is made; ``admin`` implies all of them)::

    read     GET the API: models, runs, lineage, events (SSE), streams, ...
    write    change data and state: publish to streams, ack, resolve dead letters (implies read)
    execute  trigger, retry and cancel runs (implies read)
    admin    everything, including what no other scope names (implies read, write, execute)

``write`` and ``execute`` are independent: a CI key that only starts runs gets ``execute``;
it can watch them (read) but cannot publish events. Every scope implies ``read`` because a
client that acts needs to see the result of what it did.

Example::

    created = create_api_key(store, "ci", ["execute"])
    print(created.token)          # shown once: il_3f9a0c1b2d4e_...
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from interlace.errors import InterlaceError
from interlace.state.api_keys import ApiKey, ApiKeysMixin

if TYPE_CHECKING:
    from collections.abc import Iterable

Scope = Literal["read", "write", "execute", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "execute", "admin")
IMPLIES: dict[str, frozenset[str]] = {
    "read": frozenset({"read"}),
    "write": frozenset({"write", "read"}),
    "execute": frozenset({"execute", "read"}),
    "admin": frozenset(SCOPES),
}

KEY_PREFIX = "il"
_TOKEN = re.compile(rf"{KEY_PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})")


@dataclass(frozen=True)
class NewApiKey:
    """A key just made: ``token`` is the only copy of the secret (print it once)."""

    key: ApiKey
    token: str


def effective_scopes(granted: Iterable[str]) -> frozenset[str]:
    """Every scope that ``granted`` allows (``["admin"]`` -> all four)."""
    return frozenset().union(*(IMPLIES.get(scope, frozenset()) for scope in granted))


def digest(secret: str) -> str:
    """The hex SHA-256 of a key's (or session's) secret: what the state store keeps."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed key, else ``None``."""
    match = _TOKEN.fullmatch(token.strip())
    return (match.group(1), match.group(2)) if match else None


def matches(secret: str, stored_digest: str) -> bool:
    """Whether ``secret`` is the one whose digest is stored (constant-time comparison)."""
    return hmac.compare_digest(digest(secret), stored_digest)


def key_store(store: object) -> ApiKeysMixin:
    """``store`` as a key store, or an error saying that its type keeps no API keys."""
    if not isinstance(store, ApiKeysMixin):
        raise InterlaceError(
            f"the state store {type(store).__name__} cannot keep API keys",
            hint="use the default SQLite state store or `state: {type: postgres}`",
        )
    return store


def normalize_scopes(scopes: Iterable[str]) -> tuple[Scope, ...]:
    """The scopes in canonical order, checked; an unknown one is an error for people."""
    wanted = {s.strip().lower() for s in scopes if s.strip()}
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise InterlaceError(
            f"unknown API key scope {', '.join(map(repr, unknown))}",
            hint=f"use one or more of: {', '.join(SCOPES)} (admin implies all)",
        )
    if not wanted:
        raise InterlaceError(
            "an API key needs at least one scope", hint=f"pass --scope with one of {SCOPES}"
        )
    return tuple(s for s in SCOPES if s in wanted)


def create_api_key(
    store: object,
    name: str,
    scopes: Iterable[str],
    *,
    expires_in: float | None = None,
    now: float | None = None,
) -> NewApiKey:
    """Make a key, store its digest, and return it with its token (the secret, once)."""
    keys = key_store(store)
    at = time.time() if now is None else now
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        id=key_id,
        name=name,
        scopes=normalize_scopes(scopes),
        created_at=at,
        expires_at=None if expires_in is None else at + expires_in,
    )
    keys.add_api_key(key, digest(secret))
    return NewApiKey(key=key, token=f"{KEY_PREFIX}_{key_id}_{secret}")
