"""A project folder under test: write its files, run it, read back what it built.

One helper for every engine: reads go to the project's own connections (by default its default
connection), so the same test code reads a DuckDB file or a PostgreSQL database.

Example::

    folder = ProjectFolder.create(tmp_path / "shop")
    folder.write({"models/orders.sql": "select 1 as id"})
    folder.run_ok()
    assert folder.rows("orders") == [{"id": 1}]
    assert folder.values("orders") == [(1,)]
    assert folder.sql("select count(*) from orders") == [(1,)]
    assert folder.kind("orders") == "table"
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    import pyarrow as pa

    from interlace.events import Event
    from interlace.project import Project
    from interlace.results import RunResult

DEFAULT_CONFIG = """\
name: test_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
"""
# schemas of the database's own catalog, left out of :meth:`ProjectFolder.relations`
SYSTEM_SCHEMAS = ("information_schema", "pg_catalog", "pg_toast")


class ProjectFolder:
    """A project folder under test: write files into it, run it, read what it built.

    Reading methods take ``env`` (default: the folder's ``env``, else ``INTERLACE_ENV`` or
    ``dev``) and ``connection`` (default: the project's default connection). A DuckDB database
    is opened read-only for each read and closed at once, so reads never block a later run.
    """

    def __init__(self, root: str | Path, env: str | None = None) -> None:
        self.root = Path(root).resolve()
        self.env = env
        self._project: Project | None = None

    @classmethod
    def create(
        cls, root: str | Path, *, config: str | None = DEFAULT_CONFIG, env: str | None = None
    ) -> Self:
        """A new project at ``root`` with ``config`` (DuckDB in ``data/{env}.duckdb``; ``None``
        writes no config file) and an empty ``models/`` folder."""
        folder = cls(root, env)
        (folder.root / "models").mkdir(parents=True, exist_ok=True)
        if config is not None:
            folder.write({"config.yaml": config})
        return folder

    # ------------------------------------------------------------------ files

    def write(self, files: Mapping[str, str]) -> Self:
        """Write ``{relative path: text}``; text is dedented, so tests can indent it."""
        for rel, text in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        self._project = None
        return self

    def add_connection(self, name: str, keys: str) -> Self:
        """Add connection ``name`` to ``config.yaml``, its keys as flow-style YAML
        (``'{type: duckdb, path: "data/duck.duckdb"}'``), before the ones it has."""
        config = self.root / "config.yaml"
        text = config.read_text(encoding="utf-8")
        assert "connections:\n" in text, f"{config} has no connections: section"
        added = text.replace("connections:\n", f"connections:\n  {name}: {keys}\n", 1)
        config.write_text(added, encoding="utf-8")
        self._project = None
        return self

    def remove(self, rel: str) -> None:
        """Delete the file at ``rel``."""
        (self.root / rel).unlink()
        self._project = None

    # ------------------------------------------------------------------ running

    def load(self, env: str | None = None) -> Project:
        """The project as it is on disk now (for the folder's env: cached until files change)."""
        from interlace.project import load_project

        if env is not None and env != self.env:
            return load_project(self.root, env=env)
        if self._project is None:
            self._project = load_project(self.root, env=self.env)
        return self._project

    def run(
        self,
        select: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> RunResult:
        """Run the project (``interlace.run_sync``); model failures are in the result."""
        from interlace.api import run_sync

        self._project = None  # model files may have changed on disk
        if self.env is not None:
            kwargs.setdefault("env", self.env)
        return run_sync(
            self.root,
            list(select) if select is not None else None,
            list(exclude) if exclude is not None else None,
            **kwargs,
        )

    def run_ok(
        self,
        select: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> RunResult:
        """Run and raise AssertionError naming every model that did not succeed."""
        result = self.run(select, exclude, **kwargs)
        assert_success(result)
        return result

    def run_events(
        self,
        select: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> tuple[RunResult, list[Event]]:
        """Run and return the result with every event the run published, in order."""
        events: list[Event] = []
        result = self.run(select, exclude, on_event=events.append, **kwargs)
        return result, events

    # ------------------------------------------------------------------ reading

    def db_path(self, env: str | None = None, connection: str | None = None) -> Path:
        """The database file of a DuckDB connection."""
        cfg = self._connection_config(connection, env)
        path = getattr(cfg, "path", None)
        if cfg.type != "duckdb" or not path or path.startswith((":memory:", "md:")):
            raise ValueError(f"connection {connection or 'default'} is not a DuckDB file")
        file = Path(path)
        return file if file.is_absolute() else self.root / file

    def sql(
        self, query: str, env: str | None = None, *, connection: str | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows of ``query`` as tuples."""
        return self._fetch(query, connection, env).rows

    def execute(
        self, statement: str, *, env: str | None = None, connection: str | None = None
    ) -> list[tuple[Any, ...]]:
        """Run a statement that changes the database (DDL, DML; several at once on DuckDB and
        PostgreSQL), the way another tool would between runs; its rows, if it returns any."""
        cfg = self._connection_config(connection, env)
        if cfg.type == "duckdb" and not self._in_memory(cfg):
            import duckdb

            path = self.db_path(env, connection)
            path.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(path))
            try:
                cursor = con.execute(statement)
                return cursor.fetchall() if cursor.description else []
            finally:
                con.close()
        return self.engine_rows(statement, connection, env=env)

    def engine_rows(
        self, query: str, connection: str | None = None, *, env: str | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows of ``query`` read through the project's own engine, opened as a run or a
        server of this process opens it (a DuckDB file is shared within one process only when
        opened with the same settings: use this beside a server running in the test)."""
        from interlace.opening import open_engines

        project = self.load(env)
        name = connection or project.config.default_connection
        engine = open_engines(project, [name])[name]
        try:
            session = engine.session()
            try:
                return session.fetch_all(query)
            finally:
                session.close()
        finally:
            engine.close()

    def query(
        self, query: str, connection: str | None = None, *, env: str | None = None
    ) -> list[dict[str, Any]]:
        """The rows of ``query`` as dicts."""
        result = self._fetch(query, connection, env)
        return [dict(zip(result.names, row, strict=True)) for row in result.rows]

    def arrow(
        self, query: str, connection: str | None = None, *, env: str | None = None
    ) -> pa.Table:
        """The rows of ``query`` as a pyarrow Table."""
        return self._fetch_arrow(query, connection, env)

    def table(self, name: str, env: str | None = None) -> pa.Table:
        """A model's table (by model name, or any ``schema.name``) as a pyarrow Table."""
        relation, connection = self._relation(name, env)
        return self.arrow(f"SELECT * FROM {relation}", connection, env=env)

    def rows(
        self, name: str, order_by: str | None = None, env: str | None = None
    ) -> list[dict[str, Any]]:
        """A model's (or any relation's) rows as dicts, ordered by ``order_by`` (SQL, e.g.
        ``"id"``); by default by every column, NULLs last."""
        relation, connection = self._relation(name, env)
        if order_by is not None and order_by.upper() != "ALL":
            return self.query(f"SELECT * FROM {relation} ORDER BY {order_by}", connection, env=env)
        rows = self.query(f"SELECT * FROM {relation}", connection, env=env)
        return sorted_rows(rows)

    def values(
        self, name: str, order_by: str | None = None, env: str | None = None
    ) -> list[tuple[Any, ...]]:
        """Like :meth:`rows`, each row as a tuple of its values."""
        return [tuple(row.values()) for row in self.rows(name, order_by, env)]

    def count(self, name: str, env: str | None = None) -> int:
        """How many rows a model's table (or any relation) has."""
        relation, connection = self._relation(name, env)
        found = self._fetch(f"SELECT count(*) FROM {relation}", connection, env).rows
        return int(found[0][0])

    def columns(
        self, name: str, schema: str | None = None, env: str | None = None
    ) -> dict[str, str]:
        """``{column: type}`` of a relation in column order, as the database spells the types
        (DuckDB ``BIGINT``, PostgreSQL ``bigint``)."""
        schema, table, connection = self._parts(name, schema, env)
        found = self._fetch(
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = {_literal(schema)} AND table_name = {_literal(table)} "
            "ORDER BY ordinal_position",
            connection,
            env,
        )
        return {str(column): str(dtype) for column, dtype in found.rows}

    def relations(self, env: str | None = None, connection: str | None = None) -> dict[str, str]:
        """``{schema.name: 'table' | 'view'}`` of everything in the database (a missing DuckDB
        file has none)."""
        if self._missing_file(connection, env):
            return {}
        excluded = ", ".join(_literal(s) for s in SYSTEM_SCHEMAS)
        found = self._fetch(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables "
            f"WHERE table_schema NOT IN ({excluded})",
            connection,
            env,
        )
        return {f"{s}.{n}": "view" if kind == "VIEW" else "table" for s, n, kind in found.rows}

    def kind(self, name: str, schema: str | None = None, env: str | None = None) -> str | None:
        """``'table'``, ``'view'`` or ``None`` when the relation does not exist."""
        schema, table, connection = self._parts(name, schema, env)
        return self.relations(env, connection).get(f"{schema}.{table}")

    # ------------------------------------------------------------------ engines

    def _fetch(self, query: str, connection: str | None, env: str | None) -> Fetched:
        """Run ``query`` on a connection of the project; subclasses reach a database their own
        way (a PostgreSQL test server's admin connection) by overriding this."""
        table = self._fetch_arrow(query, connection, env)
        names = list(table.column_names)
        return Fetched(names, [tuple(r.values()) for r in table.to_pylist()])

    def _fetch_arrow(self, query: str, connection: str | None, env: str | None) -> pa.Table:
        cfg = self._connection_config(connection, env)
        if cfg.type == "duckdb" and not self._in_memory(cfg):
            import duckdb

            path = self.db_path(env, connection)
            assert path.is_file(), f"{path} was not created"
            con = duckdb.connect(str(path), read_only=True)
            try:
                return con.execute(query).to_arrow_table()
            finally:
                con.close()
        from interlace.opening import open_engines

        project = self.load(env)
        name = connection or project.config.default_connection
        engine = open_engines(project, [name])[name]
        try:
            session = engine.session()
            try:
                return session.fetch_arrow(query)
            finally:
                session.close()
        finally:
            engine.close()

    def _connection_config(self, connection: str | None, env: str | None) -> Any:
        from interlace.config import load_config

        config = load_config(self.root, env or self.env).config
        return config.connections[connection or config.default_connection]

    @staticmethod
    def _in_memory(cfg: Any) -> bool:
        return str(getattr(cfg, "path", "")).startswith((":memory:", "md:"))

    def _missing_file(self, connection: str | None, env: str | None) -> bool:
        cfg = self._connection_config(connection, env)
        if cfg.type != "duckdb" or self._in_memory(cfg):
            return False
        return not self.db_path(env, connection).is_file()

    def _model(self, name: str, env: str | None) -> Any:
        """The model spec called ``name`` (or its alias), or None: the name is a relation."""
        from interlace.errors import InterlaceError

        try:
            project = self.load(env)
        except InterlaceError:  # a project that does not load can still be read
            return None
        return project.models.get(project.aliases.get(name, name))

    def _relation(self, name: str, env: str | None) -> tuple[str, str | None]:
        """How a query names a model's table (quoted), and the model's connection."""
        spec = self._model(name, env)
        if spec is None:
            return name, None
        from interlace import statements
        from interlace.plugins import connection_type

        cfg = self.load(env).config.connections[spec.connection]
        target = statements.table(spec.schema, spec.name)
        return target.sql(dialect=connection_type(cfg.type).dialect_of(cfg)), spec.connection

    def _parts(self, name: str, schema: str | None, env: str | None) -> tuple[str, str, str | None]:
        """``(schema, name, connection)`` of a model or a ``[schema.]name`` relation."""
        spec = self._model(name, env) if schema is None else None
        if spec is not None:
            return spec.schema, spec.name, spec.connection
        if schema is None:
            schema, _, name = name.rpartition(".")
        return schema or "main", name, None


@dataclass(frozen=True)
class Fetched:
    """Column names and rows of one query."""

    names: list[str]
    rows: list[tuple[Any, ...]]


def sorted_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows ordered by every column in turn, NULLs last (DuckDB's ``ORDER BY ALL``)."""

    def key(row: dict[str, Any]) -> tuple[tuple[bool, Any], ...]:
        return tuple((value is None, value) for value in row.values())

    try:
        return sorted(rows, key=key)
    except TypeError:  # values that do not compare (maps): any stable order will do
        return sorted(rows, key=repr)


def assert_success(result: RunResult) -> None:
    """Raise AssertionError listing every model that failed or was skipped for a failure."""
    if result.success:
        return
    problems = [
        f"{m.name}: {m.status}: {m.error or m.skip_reason or ''}"
        + (f" ({m.location})" if getattr(m, "location", None) else "")
        for m in result.models.values()
        if not m.ok
    ]
    detail = "\n  ".join(problems) or (result.error or result.status)
    raise AssertionError(f"the run did not succeed:\n  {detail}")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
