"""``attach:`` of a DuckDB connection: other databases ATTACHed whenever it opens.

Each kind needs a DuckDB extension (``postgres``, ``mysql``, ``sqlite``, ``ducklake``; a DuckDB
file needs none), loaded offline through :mod:`interlace.engines.duckdb_extensions`. Problems
are found before DuckDB sees them where DuckDB would be slow or vague about them: a missing file
(DuckDB attaches a missing SQLite file without complaint and fails on first read), or a MySQL
server that does not answer (the MySQL extension has no connect timeout, so a TCP probe with
``connect_timeout`` runs first).

Example (``config.yaml``)::

    connections:
      default:
        type: duckdb
        path: data/{env}.duckdb
        attach:
          - {name: shop, type: sqlite, path: data/shop.sqlite, read_only: true}
          - {name: crm, type: postgres, host: db.internal, database: crm, user: reader}
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace.errors import InterlaceConnectionError, first_line

if TYPE_CHECKING:
    import duckdb

    from interlace.connection_config import AttachConfig
    from interlace.engines.base import Capabilities

# attach type -> the extension that reads it (None: DuckDB itself)
EXTENSIONS = {
    "postgres": "postgres",
    "mysql": "mysql",
    "sqlite": "sqlite",
    "duckdb": None,
    "ducklake": "ducklake",
}


@dataclass(frozen=True)
class WriteLimits:
    """What DuckDB cannot do when it writes into an attachment of one kind."""

    label: str  # the kind, as messages name it
    off: frozenset[str]  # Capabilities flags that do not hold there
    reason: str
    instead: str  # the way around it


# attach type -> its limits (a kind not listed writes like DuckDB itself)
WRITE_LIMITS = {
    "mysql": WriteLimits(
        "MySQL",
        frozenset({"joined_dml"}),
        "DuckDB's mysql extension runs only simple UPDATE/DELETE statements, not the joins it "
        "needs",
        "put the model on a connection of type mysql, which runs every strategy inside MySQL",
    ),
}


# attachments that take one writer at a time: concurrent SQLite commits fail with 'database is
# locked', concurrent writes through DuckDB's mysql extension fail
SINGLE_WRITER_KINDS = frozenset({"sqlite", "mysql"})


def single_writer(kind: str | None) -> bool:
    """Whether writes into an attachment of ``kind`` must take turns within a run."""
    return kind in SINGLE_WRITER_KINDS


def write_capabilities(kind: str, base: Capabilities) -> Capabilities:
    """``base`` (the DuckDB engine's capabilities) as they hold for writes into ``kind``."""
    limits = WRITE_LIMITS.get(kind)
    if limits is None:
        return base
    off: dict[str, Any] = dict.fromkeys(limits.off, False)
    return replace(base, **off)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _conn_value(value: str) -> str:
    """A value in a libpq-style ``key=value`` string (quoted when it has spaces or quotes)."""
    if value and not any(c in value for c in " '\\"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Attachment:
    """One ``attach:`` item, resolved against the project folder and the connection's access."""

    connection: str  # the DuckDB connection it belongs to (for messages)
    config: AttachConfig
    root: Path
    read_only: bool  # the item's own read_only, or forced by the connection's access: read

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def what(self) -> str:
        return f"connection '{self.connection}': attach '{self.name}' ({self.config.type})"

    @property
    def main_schema(self) -> str | None:
        """The schema that ``alias.main`` stands for when it is another one: DuckDB's MySQL
        extension reads and writes ``alias.main.t`` in the MySQL database the attachment
        connects to, but lists that database's tables under its own name."""
        cfg = self.config
        if cfg.type != "mysql":
            return None
        if cfg.database:
            return cfg.database
        found = re.search(r"(?:^|\s)(?:db|database)=('[^']*'|\S+)", cfg.dsn or "")
        if found is None:
            return None
        return found.group(1).strip("'") or None

    def file(self) -> Path | None:
        if self.config.path is None or self.config.path.startswith(("postgres:", "md:")):
            return None
        path = Path(self.config.path).expanduser()
        return path if path.is_absolute() else self.root / path

    def target(self) -> str:
        """Where DuckDB reads it: a file path or a connection string (may hold a password)."""
        cfg = self.config
        if cfg.type in ("sqlite", "duckdb"):
            return str(self.file())
        if cfg.type == "ducklake":
            file = self.file()
            return "ducklake:" + (str(file) if file is not None else str(cfg.path))
        if cfg.type == "postgres":
            parts = {
                "host": cfg.host,
                "port": cfg.port,
                "dbname": cfg.database,
                "user": cfg.user,
                "password": cfg.password,
                "connect_timeout": max(2, int(cfg.connect_timeout + 0.999)),
            }
        else:  # mysql
            parts = {
                "host": cfg.host,
                "port": cfg.port,
                "db": cfg.database,
                "user": cfg.user,
                "passwd": cfg.password,
            }
        given = " ".join(f"{k}={_conn_value(str(v))}" for k, v in parts.items() if v is not None)
        return " ".join(p for p in (cfg.dsn or "", given) if p)

    def shown(self) -> str:
        """The target for messages (never the password)."""
        cfg = self.config
        if cfg.type in ("postgres", "mysql"):
            host = cfg.host or "localhost"
            port = cfg.port or (5432 if cfg.type == "postgres" else 3306)
            where = f"{host}:{port}/{cfg.database or ''}" if cfg.host or not cfg.dsn else "dsn"
            return where + (f" as {cfg.user}" if cfg.user else "")
        return str(self.file() or cfg.path)

    def statement(self) -> str:
        options = [] if self.config.type in ("duckdb", "ducklake") else [f"TYPE {self.config.type}"]
        if self.config.type == "ducklake" and self.config.data_path is not None:
            data = Path(self.config.data_path).expanduser()
            if not data.is_absolute() and "://" not in self.config.data_path:
                data = self.root / data
            folder = str(data) if "://" not in self.config.data_path else self.config.data_path
            options.append(f"DATA_PATH {_literal(folder.rstrip('/') + '/')}")
        if self.read_only:
            options.append("READ_ONLY")
        suffix = f" ({', '.join(options)})" if options else ""
        return f"ATTACH {_literal(self.target())} AS {_ident(self.name)}{suffix}"

    # ------------------------------------------------------------------ checks before ATTACH

    def creates_files(self) -> bool:
        """True when attaching would create a missing file (a new SQLite/DuckDB file, or a new
        DuckLake catalog); a health check skips those instead of creating them."""
        file = self.file()
        if file is None or file.exists() or self.read_only:
            return False
        return self.config.create or self.config.type == "ducklake"

    def check(self) -> None:
        """Raise a clear error for what DuckDB would report late or slowly."""
        file = self.file()
        if file is not None and not file.exists() and not self.creates_files():
            if self.config.type == "ducklake":
                hint = "check `path`; a read_only attachment needs an existing DuckLake catalog"
            elif self.read_only:
                hint = "check `path` of this attachment (relative paths start at the project)"
            else:
                hint = "check `path`, or set `create: true` to start a new empty database there"
            raise InterlaceConnectionError(f"{self.what}: file {file} does not exist", hint=hint)
        if file is not None and self.creates_files() and not file.parent.is_dir():
            raise InterlaceConnectionError(
                f"{self.what}: folder {file.parent} does not exist", hint="create it or fix `path`"
            )
        if self.config.type == "mysql" and (self.config.host or not self.config.dsn):
            self._probe_tcp(self.config.host or "localhost", self.config.port or 3306)

    def _probe_tcp(self, host: str, port: int) -> None:
        if host.startswith("/"):  # a Unix socket
            return
        try:
            socket.create_connection((host, port), timeout=self.config.connect_timeout).close()
        except OSError as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
            raise InterlaceConnectionError(
                f"{self.what}: cannot connect to MySQL at {self.shown()}: {reason}",
                hint="check `host`/`port` and that the server is running "
                f"(`connect_timeout`, {self.config.connect_timeout:g}s, bounds the wait)",
            ) from None

    def attach(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Check, load the extension, ATTACH; every failure names the connection and item."""
        from interlace.engines.duckdb_extensions import load_extension

        self.check()
        extension = EXTENSIONS[self.config.type]
        if extension is not None:
            try:
                load_extension(connection, extension)
            except InterlaceConnectionError as exc:
                raise InterlaceConnectionError(
                    f"{self.what}: {exc.message}", hint=exc.hint
                ) from None
        try:
            connection.execute(self.statement())
            if self.config.type == "sqlite":  # DuckDB opens SQLite files lazily: read it now
                connection.execute(
                    "SELECT count(*) FROM information_schema.tables "
                    f"WHERE table_catalog = {_literal(self.name)}"
                ).fetchall()  # all: an unread result would keep the file locked
        except Exception as exc:
            raise self.error(exc) from None

    def error(self, exc: BaseException) -> InterlaceConnectionError:
        message = first_line(exc)
        if self.config.password:
            message = message.replace(self.config.password, "****")
        kind = self.config.type
        hint = {
            "postgres": "check host, port, database, user and password of this attachment",
            "mysql": "check host, port, database, user and password of this attachment",
            "ducklake": "check `path` (the catalog) and `data_path` of this attachment",
        }.get(kind, "check `path` of this attachment")
        if "lock" in message.lower():
            hint = "another process holds that file open for writing; stop it or attach read_only"
        return InterlaceConnectionError(
            f"{self.what}: cannot attach {self.shown()}: {message}", hint=hint
        )
