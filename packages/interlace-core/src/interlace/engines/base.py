"""The engine interface every backend implements.

Strategies and materializations build sqlglot ASTs and ask an engine's :class:`Capabilities`
what it supports; the engine turns ASTs into its dialect and runs them. One :class:`Session`
per task (a DuckDB cursor, a pooled PostgreSQL connection) keeps parallel tasks apart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence
    from contextlib import AbstractContextManager

    import pyarrow as pa
    from sqlglot import exp

    from interlace.functions import ProjectFunctions
    from interlace.locks import LockWait


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do; strategies degrade where a flag is off."""

    merge: bool = False
    # MERGE exists but DELETE+INSERT is faster on this engine (DuckDB 1.5: ~7x on large upserts)
    prefer_merge: bool = False
    create_or_replace: bool = True
    # How a table is published atomically (readers see the old table or the new, never none):
    # "transaction": DDL and DML commit together (DuckDB, PostgreSQL, SQLite): stage, audit
    #   and the strategy's statements run in one transaction;
    # "rename_swap": DDL commits implicitly (MySQL): the staged table is complete before the
    #   publish, and the swap is one rename statement;
    # "table_format": a table format commits a new snapshot (Delta, Iceberg, DuckLake);
    # "versioned_view": neither transactions nor a rename onto an existing table (plain Spark
    #   tables): each write goes to a new, never-reused table `<model>__v<version>`, and one
    #   CREATE OR REPLACE VIEW of the model's name publishes it (interlace.materialize.versions);
    # "none": no atomic publish: a failure between statements can leave a gap (the next run
    #   converges), said in docs/resilience.md.
    publish: Literal["transaction", "rename_swap", "table_format", "versioned_view", "none"] = (
        "transaction"
    )
    # publish "versioned_view": how many versions older than the published one are kept (a
    # reader that resolved the view just before a publish still finds its table)
    versions_kept: int = 1
    rename_table: bool = True
    arrow_scan: bool = False
    # an incremental write (merge, SCD2, append into an existing table) stages its batch in a
    # temporary table committed before the publish transaction: DuckDB scans a table created
    # in the still-open transaction several times slower than a committed one, and a
    # temporary table is never written to the database file
    temporary_staging: bool = False
    # FULL OUTER JOIN: SCD2 with soft deletes finds new, changed and gone keys in one pass
    full_join: bool = True
    # UPDATE ... FROM and DELETE ... USING (merge_by_key and scd_type_2 need them); DuckDB's
    # mysql extension, writing into a MySQL attachment, runs only simple UPDATE/DELETE
    joined_dml: bool = True
    # one process holds the whole database while it writes (DuckDB's file lock): no other
    # process writes its tables, so a run needs no lock per target against other processes
    exclusive_writer: bool = False


@dataclass(frozen=True)
class Column:
    name: str
    type: str


class Session(ABC):
    """One task's handle on an engine (not shared between threads)."""

    dialect: str

    @abstractmethod
    def execute(self, statement: exp.Expr | str) -> None: ...

    @abstractmethod
    def fetch_one(self, statement: exp.Expr | str) -> tuple[Any, ...] | None:
        """Run a statement and return its first row (a DML statement's row count for DuckDB)."""

    @abstractmethod
    def fetch_all(self, statement: exp.Expr | str) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def fetch_arrow(self, statement: exp.Expr | str) -> pa.Table: ...

    @abstractmethod
    def register(self, name: str, data: Any) -> None:
        """Expose in-memory data (Arrow table/reader, DataFrame) as a relation called ``name``."""

    @abstractmethod
    def unregister(self, name: str) -> None: ...

    def fetch_batches(self, statement: exp.Expr | str) -> pa.RecordBatchReader:
        """The rows of a query as a stream of Arrow batches (engines stream where they can)."""
        return self.fetch_arrow(statement).to_reader()

    def load_temp(self, name: str, data: pa.RecordBatchReader) -> None:
        """Load a stream of batches into a temporary table ``name`` of this session."""
        self.register(name, data)

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Run the enclosed statements in one transaction (rolled back on error)."""

    @abstractmethod
    def relation_kind(self, schema: str, name: str) -> str | None:
        """``'table'``, ``'view'`` or ``None`` when nothing of that name exists."""

    @abstractmethod
    def describe(self, schema: str, name: str) -> list[Column]: ...

    def temporary_table(self, name: str) -> exp.Table:
        """How statements name this session's temporary table ``name``."""
        from sqlglot import exp

        return exp.Table(this=exp.to_identifier(name, quoted=True))

    def describe_relation(self, table: exp.Table) -> list[Column]:
        """Columns of ``table``, which may name an attached database (``alias.schema.name``)."""
        return self.describe(table.db, table.name)

    def copy_to_file(
        self, query: exp.Expr, path: str, file_format: str, options: Mapping[str, Any]
    ) -> None:
        """Write the rows of ``query`` to a local file (csv, parquet or json).

        ``options`` are format options by their export names (``header``, ``delimiter``,
        ``compression``, ``array``). Engines that write files themselves (DuckDB's COPY)
        override this; the default streams the rows as Arrow batches into the file.
        """
        from interlace.file_writer import write_arrow_file

        write_arrow_file(self.fetch_batches(query), path, file_format, options)

    def view_query(self, schema: str, name: str) -> str | None:
        """The SQL text of view ``schema.name``, or None when it is no view (or the engine
        cannot tell). Versioned publishing reads which version a model's view shows."""
        return None

    def unique_integers(self, table: exp.Table, column: str) -> bool | None:
        """Whether the non-NULL values of an integer ``column`` are all distinct, when the
        engine can tell more cheaply than a GROUP BY; None: it cannot (not integers, too
        sparse, or no such shortcut)."""
        return None

    def content_hash(self, table: exp.Table, columns: Sequence[Column] | None = None) -> str | None:
        """An order-insensitive hash of a table's rows and column types, or None when the
        engine cannot compute one cheaply (then every write counts as a data change).
        ``columns``: the table's columns when the caller has just described it."""
        return None

    def target_lock(self, schema: str, name: str, wait: LockWait) -> AbstractContextManager[None]:
        """Hold the write lock of table ``schema.name`` in this engine, against other
        processes, while the block runs (see :mod:`interlace.locks`). Engines without a way to
        lock across processes take none (DuckDB: the database file is the lock)."""
        from contextlib import nullcontext

        return nullcontext()

    @abstractmethod
    def interrupt(self) -> None:
        """Abort the statement running on this session (from another thread)."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def ibis(self) -> Any:
        """An ibis backend bound to this session (lazy tables run on it)."""


class Engine(ABC):
    """A database a model runs in."""

    name: str
    dialect: str
    capabilities: Capabilities
    # top-level modules whose exceptions are the database's own (a refused statement, a lost
    # connection): they count against the circuit breaker and are shown as the database's words
    driver_modules: ClassVar[tuple[str, ...]] = ()

    def raised_by_driver(self, exc: BaseException) -> bool:
        """Whether the exception object itself is the database's or its driver's (or
        sqlglot's, translating the statement), rather than a model's own code's."""
        module = type(exc).__module__.split(".", 1)[0]
        return module in self.driver_modules or module == "sqlglot"

    def is_driver_error(self, error: BaseException) -> bool:
        """Whether ``error``, or the exception it was raised from, says the database failed
        (a refused statement, a lost connection): what counts against the circuit breaker."""
        original = error.__cause__ or error
        return isinstance(original, (ConnectionError, TimeoutError)) or self.raised_by_driver(
            original
        )

    @property
    def lock_scope(self) -> str:
        """Names the physical database, so that runs of one process that reach it through
        different connections (or environments) share its targets' locks."""
        return f"{type(self).__name__}:{self.name}"

    def wait_for_locks(self, wait: LockWait) -> None:
        """How this engine waits when the database itself is locked by another process (a
        DuckDB file): engines without such a lock ignore it."""
        return None

    @abstractmethod
    def session(self) -> Session: ...

    @abstractmethod
    def list_relations(self, like: str) -> Iterator[tuple[str, str, str]]:
        """``(schema, name, kind)`` of relations whose name matches the SQL LIKE pattern."""

    def list_schemas(self) -> list[str]:
        """Schema names (including empty ones); engines that cannot tell return []."""
        return []

    def attach(self, alias: str, other: Engine) -> list[tuple[str, str, str]] | None:
        """Make the database of ``other`` (another connection) readable, read-only, as
        ``alias.schema.name`` in this engine's queries; return its ``(schema, name, kind)``
        relations. ``None``: this engine cannot read that database itself (callers then move
        rows through Arrow or refuse). Fallback resolution and promote use it."""
        return None

    def detach(self, alias: str) -> None:
        """Undo :meth:`attach` (no error when ``alias`` is not attached)."""
        return None

    def use_databases(self, databases: Iterable[str]) -> None:
        """The attached databases that models of the project materialize into (``database=``):
        engines that attach databases list those relations with their own."""
        return None

    def use_functions(self, functions: ProjectFunctions) -> None:
        """Register the project's ``functions/`` on every session (DuckDB does; others ignore
        them: SQL functions are written in DuckDB's dialect)."""
        return None

    @abstractmethod
    def close(self) -> None: ...

    def ping(self) -> None:
        """Raise if the engine cannot be reached."""
        session = self.session()
        try:
            session.fetch_all("SELECT 1")
        finally:
            session.close()


def drop_and_create(statement: exp.Expr | str) -> list[exp.Expr | str]:
    """``CREATE OR REPLACE TABLE|VIEW`` as ``DROP ... IF EXISTS`` then ``CREATE``, for engines
    without it (``Capabilities.create_or_replace`` off); any other statement unchanged.

    Callers run both in one transaction where the engine can (PostgreSQL), so readers never
    see the gap."""
    from sqlglot import exp

    if not (isinstance(statement, exp.Create) and statement.args.get("replace")):
        return [statement]
    kind = str(statement.args.get("kind") or "").upper()
    if kind not in ("TABLE", "VIEW"):
        return [statement]
    target = statement.this
    if isinstance(target, exp.Schema):
        target = target.this
    created = statement.copy()
    created.set("replace", False)
    return [exp.Drop(tables=[target.copy()], kind=kind, exists=True), created]
