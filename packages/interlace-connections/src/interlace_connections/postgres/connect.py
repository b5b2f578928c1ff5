"""Opening PostgreSQL connections, and turning libpq's failures into errors people can act on."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from interlace.errors import InterlaceConnectionError

if TYPE_CHECKING:
    import psycopg

    from interlace_connections.postgres.config import PostgresParams

# psycopg and its pool log a WARNING for every connection they find closed and discard, as after
# a server restart; we check pooled connections, reconnect and retry ourselves, and a failure
# that remains reaches the user as an error of ours. Without a handler of its own, logging's
# last resort would print those lines on the terminal of an application (the CLI) that set up
# no logging; one that does configure logging still receives them.
logging.getLogger("psycopg").addHandler(logging.NullHandler())

# libpq's first line says what failed; these pick the hint.
_HINTS = (
    ("password authentication failed", "check `password` (and `user`) of this connection"),
    ("no password supplied", "set `password` of this connection (e.g. password: ${PGPASSWORD})"),
    ("role", "check `user` of this connection: the server does not know that role"),
    ("database", "check `database` of this connection, or create the database"),
    (
        "timeout expired",
        "the server did not answer in time: check `host`/`port`, firewalls and "
        "that PostgreSQL is running (`connect_timeout` sets how long to wait)",
    ),
    (
        "connection refused",
        "nothing listens there: check `host`/`port` and that PostgreSQL is running",
    ),
    ("could not translate host name", "check `host`: the name does not resolve"),
    (
        "no pg_hba.conf entry",
        "the server refuses this client: ask its admin to allow it in "
        "pg_hba.conf, or check `sslmode`",
    ),
    ("ssl", "check `sslmode` of this connection"),
)


def connect(name: str, params: PostgresParams, **kwargs: Any) -> psycopg.Connection[Any]:
    """One direct connection, failing within ``connect_timeout`` with a clear error."""
    import psycopg

    try:
        return psycopg.connect(params.conninfo(), **kwargs)
    except psycopg.Error as exc:
        raise connection_error(name, params, exc) from None


def connection_error(
    what: str, params: PostgresParams, exc: BaseException
) -> InterlaceConnectionError:
    """``connection 'warehouse': cannot connect to PostgreSQL at host:port/db as user: ...``."""
    reason = _reason(exc)
    lowered = reason.lower()
    hint = next(
        (h for needle, h in _HINTS if needle in lowered),
        "check the connection's host, port, database, user and password",
    )
    return InterlaceConnectionError(
        f"{what}: cannot connect to PostgreSQL at {params.target()}: {reason}", hint=hint
    )


def _reason(exc: BaseException) -> str:
    """The useful part of libpq's message (it repeats 'connection to server at ... failed')."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    parts = []
    for line in lines:
        text = _PREFIX.sub("", line).strip()
        text = text.removeprefix("FATAL:").strip()
        if text and text not in parts:
            parts.append(text)
    return "; ".join(parts[:2])


_PREFIX = re.compile(r"^(connection failed:\s*)?(connection to server (at|on) .*? failed:\s*)?")
