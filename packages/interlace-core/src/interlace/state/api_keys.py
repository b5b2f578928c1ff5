"""API keys and browser sessions in the state store, so every server process sees the same ones.

The store never sees a secret: callers (``interlace_http.apikeys``) hand it the SHA-256 digest
of a key's secret part and look keys up by their public id. A key is shared store-wide (it
authenticates to any server that uses this state store, whatever its environment).

:class:`ApiKeysMixin` is part of :class:`~interlace.state.sqlite.SQLiteStateStore` (and so of the
PostgreSQL store, which runs the same SQL through a translator): keep its SQL portable (``?``
parameters, no SQLite-only functions). Its tables come from the store's ``MIGRATIONS``.

Example::

    store = SQLiteStateStore(".interlace/state.db")
    store.add_api_key(ApiKey(id="3f9a0c1b2d4e", name="ci", scopes=("execute",),
                             created_at=time.time()), digest="ab12...")
    store.revoke_api_key("ci", at=time.time())
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from interlace.errors import InterlaceError
from interlace.state.mixin import StoreMixin

# names people type on the command line: no spaces or quotes
KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")

# the SQLite store's migration that creates these tables (appended to its MIGRATIONS); a key's
# name is unique among the keys not revoked (a revoked name can be given to a new key)
MIGRATION = """
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        digest TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL,
        last_used_at REAL,
        revoked_at REAL
    );
    CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
    CREATE TABLE api_sessions (
        digest TEXT PRIMARY KEY,
        key_id TEXT NOT NULL REFERENCES api_keys (id),
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX api_sessions_key ON api_sessions (key_id);
"""

_KEY_COLUMNS = (
    "id",
    "name",
    "scopes",
    "created_at",
    "expires_at",
    "last_used_at",
    "revoked_at",
)


class ApiKeyError(InterlaceError):
    """An API key cannot be created or found as asked (a duplicate or invalid name)."""


@dataclass(frozen=True, kw_only=True)
class ApiKey:
    """An API key as the store keeps it, without its secret (only a digest of it is stored).

    ``scopes`` are the granted names (``read``, ``write``, ``execute``, ``admin``); what each
    implies is decided by the HTTP toolkit (``interlace_http.apikeys``).
    """

    id: str
    name: str
    scopes: tuple[str, ...]
    created_at: float
    expires_at: float | None = None
    last_used_at: float | None = None
    revoked_at: float | None = None

    def status(self, now: float) -> str:
        """``active``, ``revoked`` or ``expired`` at ``now`` (epoch seconds)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


@dataclass(frozen=True, kw_only=True)
class ApiSession:
    """A browser session made from an API key (``POST /api/v1/auth/session``)."""

    key_id: str
    created_at: float
    expires_at: float


def _key(row: tuple[Any, ...]) -> ApiKey:
    values = dict(zip(_KEY_COLUMNS, row, strict=True))
    values["scopes"] = tuple(str(values["scopes"]).split())
    return ApiKey(**values)


class ApiKeysMixin(StoreMixin):
    """API keys and sessions of a state store (the SQLite store and those built on its SQL)."""

    # ------------------------------------------------------------------ keys

    def add_api_key(self, key: ApiKey, digest: str) -> None:
        """Store a new key with the digest of its secret.

        Raises :class:`ApiKeyError` when the name is invalid or an active key already has it.
        """
        if not KEY_NAME.fullmatch(key.name):
            raise ApiKeyError(
                f"invalid API key name {key.name!r}",
                hint="use up to 64 letters, digits, '_', '.', '@' or '-', starting with a "
                "letter or digit (e.g. ci-deploy)",
            )
        with self.transaction():
            taken = self._db.execute(
                "SELECT id FROM api_keys WHERE name = ? AND revoked_at IS NULL", (key.name,)
            ).fetchone()
            if taken:
                raise ApiKeyError(
                    f"an active API key named {key.name!r} already exists (id {taken[0]})",
                    hint=f"choose another name, or revoke the old key first: "
                    f"interlace apikey revoke {key.name}",
                )
            self._db.execute(
                "INSERT INTO api_keys (id, name, digest, scopes, created_at, expires_at, "
                "last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key.id,
                    key.name,
                    digest,
                    " ".join(key.scopes),
                    key.created_at,
                    key.expires_at,
                    key.last_used_at,
                    key.revoked_at,
                ),
            )

    def api_key(self, key_id: str) -> ApiKey | None:
        """The key with this id (revoked or not), else ``None``."""
        found = self.api_key_digest(key_id)
        return found[0] if found else None

    def api_key_digest(self, key_id: str) -> tuple[ApiKey, str] | None:
        """The key with this id and the stored digest of its secret, to verify a request."""
        rows = self._query(
            f"SELECT {', '.join(_KEY_COLUMNS)}, digest FROM api_keys WHERE id = ?", (key_id,)
        )
        if not rows:
            return None
        return _key(rows[0][:-1]), str(rows[0][-1])

    def api_keys(self, include_revoked: bool = False) -> list[ApiKey]:
        """Every key (the active ones unless ``include_revoked``), oldest first."""
        where = "" if include_revoked else "WHERE revoked_at IS NULL "
        rows = self._query(
            f"SELECT {', '.join(_KEY_COLUMNS)} FROM api_keys {where}ORDER BY created_at, id", ()
        )
        return [_key(row) for row in rows]

    def count_usable_api_keys(self, now: float) -> int:
        """How many keys are neither revoked nor expired at ``now``."""
        rows = self._query(
            "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL "
            "AND (expires_at IS NULL OR expires_at > ?)",
            (now,),
        )
        return int(rows[0][0])

    def revoke_api_key(self, id_or_name: str, at: float) -> ApiKey | None:
        """Revoke the key with this id, else the active key with this name; ``None`` when
        neither exists. An already revoked key (by id, or by name when no active key has it)
        is returned as it was. The key's browser sessions end with it."""
        with self.transaction():
            row = self._db.execute(
                f"SELECT {', '.join(_KEY_COLUMNS)} FROM api_keys WHERE id = ?", (id_or_name,)
            ).fetchone()
            if row is None:  # by name: the active key, else the last one revoked
                row = self._db.execute(
                    f"SELECT {', '.join(_KEY_COLUMNS)} FROM api_keys WHERE name = ? "
                    "ORDER BY CASE WHEN revoked_at IS NULL THEN 0 ELSE 1 END, revoked_at DESC "
                    "LIMIT 1",
                    (id_or_name,),
                ).fetchone()
            if row is None:
                return None
            key = _key(tuple(row))
            if key.revoked_at is not None:
                return key
            self._db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (at, key.id),
            )
            self._db.execute("DELETE FROM api_sessions WHERE key_id = ?", (key.id,))
        return replace(key, revoked_at=at)

    def touch_api_key(self, key_id: str, at: float) -> None:
        """Remember when a key was last used (the HTTP layer calls this at most once per key
        and cache period, never per request)."""
        with self.transaction():
            self._db.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (at, key_id))

    # ------------------------------------------------------------------ sessions

    def add_api_session(
        self, digest: str, key_id: str, created_at: float, expires_at: float
    ) -> None:
        """Store a browser session (by the digest of its token); forgets expired ones."""
        with self.transaction():
            self._db.execute("DELETE FROM api_sessions WHERE expires_at <= ?", (created_at,))
            self._db.execute(
                "INSERT INTO api_sessions (digest, key_id, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (digest, key_id, created_at, expires_at),
            )

    def api_session(self, digest: str) -> ApiSession | None:
        rows = self._query(
            "SELECT key_id, created_at, expires_at FROM api_sessions WHERE digest = ?", (digest,)
        )
        if not rows:
            return None
        key_id, created_at, expires_at = rows[0]
        return ApiSession(key_id=key_id, created_at=created_at, expires_at=expires_at)

    def remove_api_session(self, digest: str) -> bool:
        """End a session (sign out); whether it existed."""
        with self.transaction():
            cursor = self._db.execute("DELETE FROM api_sessions WHERE digest = ?", (digest,))
            return bool(getattr(cursor, "rowcount", 0) or 0)
