"""Apache Spark as a model engine (``type: spark``), through pyspark and ibis's pyspark backend.

Plain Spark tables (parquet in the warehouse, listed in the Hive catalog) have no
transactions and no row changes: MERGE, UPDATE, DELETE and REPLACE TABLE are refused, a failed
overwrite leaves a table empty or gone. So models publish by version (``Capabilities.publish
= "versioned_view"``): each run writes a new table, and one ``CREATE OR REPLACE VIEW`` makes
it the model. Row changes of a strategy only ever touch that new, unpublished table, so this
session runs them as "a new table from a query, renamed into place"
(:mod:`interlace_connections.spark.rewrite`).

Every task gets its own Spark session (``newSession``): temporary views and settings stay
apart, tables and the JVM are shared.

Why one module over 500 lines: it is everything Spark-specific about sessions and publishing
(as ``interlace.engines.duckdb`` is for DuckDB); the session's statements and the engine's
versioned publish are one protocol, and the SQL rewrites already live in their own module.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import threading
import uuid
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from interlace.engines.base import Capabilities, Column, Engine, Session, drop_and_create
from interlace.errors import InterlaceConnectionError
from sqlglot import exp

from interlace_connections.spark import sql_checks, startup
from interlace_connections.spark.rewrite import (
    Rewrite,
    delete_as_query,
    merge_as_query,
    retype_as_query,
    update_as_query,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    import pyarrow as pa

    from interlace_connections.spark.config import SparkConnectionConfig

DIALECT = "spark"
ROWS_PER_LOAD = 100_000  # Arrow rows handed to Spark at a time when loading in-memory data
# rows per Arrow batch when a result streams out of Spark (cross-connection reads, exports):
# the driver holds one partition and one batch at a time, never the whole result
ROWS_PER_BATCH = 50_000
_SYSTEM_SCHEMAS = frozenset({"global_temp"})


def _like(pattern: str) -> str:
    """A SQL LIKE pattern as an fnmatch one."""
    out = []
    for char in pattern:
        if char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char in "[]*?":
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "".join(out)


class SparkSQLSession(Session):
    """One task's Spark session: SQL in Spark's dialect, results as Arrow."""

    dialect = DIALECT

    def __init__(self, engine: SparkEngine, spark: Any) -> None:
        self.engine = engine
        self.spark: Any = spark
        self.group = f"interlace-{uuid.uuid4().hex[:12]}"
        self.temp_views: set[str] = set()
        self._ibis: Any = None

    # -- running statements
    def render(self, statement: exp.Expr | str) -> str:
        if isinstance(statement, str):
            return statement
        if _creates_view(statement) and self.engine.schema_evolution(self.spark):
            # a view follows the columns of what it reads (a model republished with other
            # columns or types), as views do on DuckDB and PostgreSQL; Spark's default binding
            # would keep the old columns and cast
            head = statement.copy()
            query = head.args["expression"]
            head.set("expression", None)
            return (
                f"{head.sql(dialect=DIALECT)} WITH SCHEMA EVOLUTION AS {query.sql(dialect=DIALECT)}"
            )
        return statement.sql(dialect=DIALECT)

    def _sql(self, statement: exp.Expr | str) -> Any:
        """A DataFrame for one statement (DDL and DML run at once); :meth:`_run` checked a
        DuckDB-dialect statement before."""
        if not isinstance(statement, str) and self.engine.config.dialect == "duckdb":
            statement = sql_checks.adapted(statement)
        context = getattr(self.spark, "sparkContext", None) if not self.engine.remote else None
        if context is not None:  # lets interrupt() cancel this task's jobs
            context.setJobGroup(self.group, "interlace", interruptOnCancel=True)
        return self.spark.sql(self.render(statement))

    def _run(self, statement: exp.Expr | str) -> tuple[Any, int | None]:
        """Run ``statement`` (adapting what plain Spark tables refuse); the DataFrame of its
        rows, and for a row change the number of rows it touched."""
        if isinstance(statement, str):
            parsed = self._parsed(statement)
            if parsed is None:
                return self._sql(statement), None
            for each in parsed[:-1]:
                self._run(each)
            return self._run(parsed[-1])
        if self.engine.config.dialect == "duckdb":
            sql_checks.check(statement, self.engine.name)
        statement = _own_aliases(statement)
        if isinstance(statement, exp.Create) and _temporary(statement):
            self._temporary_table(statement)
            return None, None
        if isinstance(statement, exp.Drop) and self._drops_temp_view(statement):
            return None, None
        if isinstance(statement, exp.Delete):
            return None, self._apply(delete_as_query(statement))
        if isinstance(statement, exp.Update):
            return None, self._apply(update_as_query(statement, self._columns(statement.this)))
        if isinstance(statement, exp.Merge):
            return None, self._apply(merge_as_query(statement, self._columns(statement.this)))
        if isinstance(statement, exp.Alter) and isinstance(statement.this, exp.Table):
            retyped = retype_as_query(statement, self._columns(statement.this))
            if retyped is not None:
                self._apply(retyped)
                return None, None
        if isinstance(statement, exp.Insert):
            return None, self._insert(statement)
        parts = drop_and_create(statement) if _replaces_table(statement) else [statement]
        for part in parts[:-1]:
            self._sql(part)
        return self._sql(parts[-1]), None

    def _parsed(self, text: str) -> list[exp.Expr] | None:
        """SQL text (a migration, a hook, a model's own statements) as statements to run one
        by one (Spark runs one per call): read in the connection's dialect, so DuckDB SQL is
        translated and checked like a model's; None: Spark gets the text as it is (one
        statement of Spark SQL, or text sqlglot cannot read)."""
        import sqlglot

        dialect = self.engine.config.dialect
        try:
            statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
        except sqlglot.errors.SqlglotError:
            return None
        if not statements or any(isinstance(s, exp.Command) for s in statements):
            return None
        if dialect == DIALECT and len(statements) == 1:
            return None
        return statements

    def _columns(self, table: exp.Expr) -> list[str]:
        if not isinstance(table, exp.Table):
            raise ValueError(f"cannot rewrite a change of {table.sql()}")
        return [c.name for c in self.describe(table.db, table.name)]

    def _apply(self, change: Rewrite) -> int:
        """A row change of a table no reader sees (the next version of a model): the rows
        after it go to a new table, which then takes the old one's name."""
        touched = 0
        if change.counted is not None:
            touched = int(self._sql(change.counted).collect()[0][0])
            if not touched:
                return 0
        table = change.table
        scratch = exp.table_(
            exp.to_identifier(f"{table.name}__il_rw", quoted=True),
            db=exp.to_identifier(table.db, quoted=True) if table.db else None,
        )
        self._sql(exp.Drop(tables=[scratch.copy()], kind="TABLE", exists=True))
        self._sql(exp.Create(this=scratch.copy(), kind="TABLE", expression=change.kept))
        self._sql(exp.Drop(tables=[table.copy()], kind="TABLE"))
        self._sql(
            exp.Alter(
                this=scratch.copy(),
                kind="TABLE",
                actions=[exp.AlterRename(this=exp.to_identifier(table.name, quoted=True))],
            )
        )
        return touched

    def _insert(self, statement: exp.Insert) -> int:
        """``INSERT INTO t ...``: string literals of VALUES take the types of the columns they
        fill (DuckDB casts them; Spark's store assignment refuses a string for a timestamp),
        and one insert into a table runs at a time in this process (two appends into one
        plain table at once break each other's commit)."""
        statement = self._typed_values(statement)
        target = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
        with self.engine.table_lock(target.sql(dialect=DIALECT)):
            return self._insert_rows(statement)

    def _typed_values(self, statement: exp.Insert) -> exp.Insert:
        values = statement.expression
        if not isinstance(values, exp.Values):
            return statement
        target = statement.this
        if isinstance(target, exp.Schema):
            table, names = target.this, [c.name for c in target.expressions]
        else:
            table, names = target, []
        if not isinstance(table, exp.Table):
            return statement
        columns = {c.name: c.type for c in self.describe(table.db, table.name)}
        types = [columns.get(n) for n in names] if names else list(columns.values())
        statement = statement.copy()
        for row in statement.expression.expressions:
            if not isinstance(row, exp.Tuple):
                continue
            for value, kind in zip(row.expressions, types, strict=False):
                if kind and kind != "STRING" and isinstance(value, exp.Literal) and value.is_string:
                    value.replace(exp.cast(value.copy(), exp.DataType.build(kind, dialect=DIALECT)))
        return statement

    def _insert_rows(self, statement: exp.Insert) -> int:
        query = statement.expression
        count = 0
        if isinstance(query, exp.Query):  # the rows it adds, counted before they are added
            count = int(
                self._sql(
                    exp.select(exp.Count(this=exp.Star())).from_(
                        exp.Subquery(this=query.copy(), alias=exp.TableAlias(this="__il_ins"))
                    )
                ).collect()[0][0]
            )
            if not count:
                return 0
        self._sql(statement)
        return count

    def _temporary_table(self, statement: exp.Create) -> None:
        """``CREATE TEMPORARY TABLE t AS query``: a session-private view over the query's rows,
        computed once (Spark has no temporary tables; a plain temporary view would recompute
        the query after its sources changed)."""
        target = statement.this
        name = target.name if isinstance(target, exp.Table) else str(target)
        query = statement.expression
        if not isinstance(query, exp.Query):
            raise ValueError("a temporary table on Spark needs AS <query>")
        frame = self._sql(query)
        frame = frame.cache() if self.engine.remote else frame.localCheckpoint(eager=True)
        frame.createOrReplaceTempView(name)
        self.temp_views.add(name)

    def _drops_temp_view(self, statement: exp.Drop) -> bool:
        tables = statement.args.get("tables") or []
        target = tables[0] if len(tables) == 1 else statement.this
        if not isinstance(target, exp.Table) or target.db or target.name not in self.temp_views:
            return False
        self.unregister(target.name)
        return True

    def execute(self, statement: exp.Expr | str) -> None:
        self._run(statement)

    def fetch_one(self, statement: exp.Expr | str) -> tuple[Any, ...] | None:
        frame, touched = self._run(statement)
        if frame is None:
            return (touched,) if touched is not None else None
        rows = _arrow_rows(frame.limit(1).toArrow()) if frame.columns else []
        return rows[0] if rows else None

    def fetch_all(self, statement: exp.Expr | str) -> list[tuple[Any, ...]]:
        """Rows as Python values read through Arrow: an instant (TIMESTAMP) comes back aware,
        in UTC, a TIMESTAMP_NTZ naive (pyspark's own rows turn both into naive local times)."""
        frame, _ = self._run(statement)
        if frame is None or not frame.columns:
            return []
        return _arrow_rows(frame.toArrow())

    def fetch_arrow(self, statement: exp.Expr | str) -> pa.Table:
        import pyarrow as pa

        frame, _ = self._run(statement)
        if frame is None or not frame.columns:
            return pa.table({})
        table: pa.Table = frame.toArrow()
        return table

    def fetch_batches(self, statement: exp.Expr | str) -> pa.RecordBatchReader:
        """The rows of a query as a stream of Arrow batches of at most :data:`ROWS_PER_BATCH`
        rows: Spark hands them over one partition at a time (``toLocalIterator``), so a
        result larger than the driver's memory still streams (``fetch_arrow`` collects it
        whole)."""
        import pyarrow as pa

        frame, _ = self._run(statement)
        if frame is None or not frame.columns:
            return pa.table({}).to_reader()
        schema = _arrow_schema(frame.schema)
        return pa.RecordBatchReader.from_batches(
            schema, _row_batches(frame.toLocalIterator(prefetchPartitions=True), schema)
        )

    # -- in-memory data
    def register(self, name: str, data: Any) -> None:
        """Expose Arrow-compatible data as a temporary view ``name`` of this session."""
        import pyarrow as pa

        from interlace_connections.arrow_batches import as_batches

        schema, batches = as_batches(data, ROWS_PER_LOAD)
        # timestamps without a time zone stay so (TIMESTAMP_NTZ, like DuckDB's TIMESTAMP and
        # what sqlglot makes of it), not instants in the session's time zone
        spark_schema = _spark_schema(schema)
        frame = None
        for batch in batches:
            part = self.spark.createDataFrame(
                pa.Table.from_batches([batch], schema), schema=spark_schema
            )
            frame = part if frame is None else frame.unionByName(part)
        if frame is None:
            frame = self.spark.createDataFrame(schema.empty_table(), schema=spark_schema)
        frame.createOrReplaceTempView(name)
        self.temp_views.add(name)

    def unregister(self, name: str) -> None:
        self.temp_views.discard(name)
        try:
            self.spark.catalog.dropTempView(name)
        except Exception:
            pass

    def temporary_table(self, name: str) -> exp.Table:
        return exp.Table(this=exp.to_identifier(name, quoted=True))

    # -- transactions
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Spark has no transactions: statements apply one by one (models publish by
        version, so readers never see a half-written table)."""
        yield

    def content_hash(self, table: exp.Table, columns: Sequence[Column] | None = None) -> str | None:
        """An order-insensitive hash of the rows (a sum of 64-bit row hashes, each NULL marked
        so ``(1, NULL)`` and ``(NULL, 1)`` differ) and of the column types."""
        import hashlib

        if columns is None:
            columns = self.describe_relation(table)
        if not columns:
            return None
        parts = []
        for column in columns:
            name = exp.column(exp.to_identifier(column.name, quoted=True)).sql(dialect=DIALECT)
            parts += [name, f"{name} IS NULL"]
        row = self.spark.sql(
            f"SELECT count(*), sum(CAST(xxhash64({', '.join(parts)}) AS DECIMAL(38, 0))) "
            f"FROM {self.render(table)}"
        ).collect()[0]
        digest = hashlib.sha256(
            repr((row[0], str(row[1]), [(c.name, c.type) for c in columns])).encode()
        )
        return digest.hexdigest()[:32]

    # -- catalog
    def relation_kind(self, schema: str, name: str) -> str | None:
        try:
            found = self.spark.catalog.getTable(f"`{schema}`.`{name}`")
        except Exception:
            return None
        return "view" if str(found.tableType).upper() == "VIEW" else "table"

    def describe(self, schema: str, name: str) -> list[Column]:
        table = exp.table_(
            exp.to_identifier(name, quoted=True),
            db=exp.to_identifier(schema, quoted=True) if schema else None,
        )
        return self.describe_relation(table)

    def describe_relation(self, table: exp.Table) -> list[Column]:
        try:
            frame = self.spark.sql(f"SELECT * FROM {self.render(table)} LIMIT 0")
        except Exception:
            return []
        return [Column(f.name, type_name(f.dataType)) for f in frame.schema.fields]

    def view_query(self, schema: str, name: str) -> str | None:
        """The SQL text of view ``schema.name`` (None when it is no view)."""
        try:
            rows = self.spark.sql(f"DESCRIBE TABLE EXTENDED `{schema}`.`{name}`").collect()
        except Exception:
            return None
        for row in rows:
            if str(row[0]).strip() == "View Text":
                return str(row[1])
        return None

    # -- lifecycle
    def interrupt(self) -> None:
        """Cancel this task's running Spark jobs (from another thread)."""
        try:
            if self.engine.remote:
                self.spark.interruptAll()
            else:
                self.spark.sparkContext.cancelJobGroup(self.group)
        except Exception:
            pass

    def close(self) -> None:
        for name in list(self.temp_views):
            self.unregister(name)
        self.engine.forget(self)

    def ibis(self) -> Any:
        """ibis's pyspark backend on this session (Python models build lazy tables on it)."""
        if self._ibis is None:
            import ibis

            self._ibis = ibis.pyspark.from_connection(self.spark)
        return self._ibis


class SparkEngine(Engine):
    """A Spark cluster (or local mode) as the engine of a connection; see the module doc."""

    dialect = DIALECT
    driver_modules: ClassVar[tuple[str, ...]] = ("pyspark", "py4j")
    capabilities = Capabilities(
        merge=False,
        create_or_replace=False,  # no REPLACE TABLE AS SELECT (views: yes)
        publish="versioned_view",
        rename_table=True,
        arrow_scan=False,
        full_join=True,
        joined_dml=True,  # on unpublished versions only, rewritten as new tables
    )

    def __init__(self, name: str, config: SparkConnectionConfig, root: Path) -> None:
        self.name = name
        self.config = config
        self.root = root
        self.remote = config.remote is not None
        if config.keep_versions != self.capabilities.versions_kept:
            self.capabilities = dataclasses.replace(
                self.capabilities, versions_kept=config.keep_versions
            )
        self._spark: Any = None
        self._owned = False
        self._lock = threading.Lock()
        self._sessions: set[SparkSQLSession] = set()
        self._evolution: bool | None = None
        self._table_locks: dict[str, threading.Lock] = {}

    @contextmanager
    def table_lock(self, table: str) -> Iterator[None]:
        """Hold the in-process lock of ``table`` (its writes run one at a time)."""
        with self._lock:
            lock = self._table_locks.setdefault(table, threading.Lock())
        with lock:
            yield

    def schema_evolution(self, spark: Any) -> bool:
        """Whether Spark has views that follow their query's columns (Spark 4)."""
        if self._evolution is None:
            try:
                self._evolution = int(str(spark.version).split(".")[0]) >= 4
            except ValueError:
                self._evolution = False
        return self._evolution

    @property
    def what(self) -> str:
        return f"connection '{self.name}' (type spark)"

    @property
    def lock_scope(self) -> str:
        where = self.config.remote or str((self.root / self.config.warehouse).resolve())
        return f"spark:{where}"

    def spark(self) -> Any:
        """The root pyspark session of this connection (started on first use)."""
        with self._lock:
            if self._spark is None:
                spark, owned = startup.start_session(self.name, self.config, self.root)
                try:
                    spark.sql("SHOW DATABASES").collect()  # opens the catalog (and metastore)
                except Exception as exc:
                    if self.remote:
                        startup.forget_remote(spark)  # next time: a new session
                    elif owned:
                        startup.release(spark)
                        startup.stop_running(unused_only=True)  # next time: start afresh
                    if startup.metastore_busy(self.config, self.root, exc):
                        raise startup.busy_error(self.what, self.config) from None
                    raise InterlaceConnectionError(
                        f"{self.what}: Spark started but its catalog does not open: "
                        f"{str(exc).splitlines()[0]}",
                        hint="check `catalog`, `metastore` and `conf:` of this connection",
                    ) from None
                self._spark, self._owned = spark, owned
            return self._spark

    def session(self) -> SparkSQLSession:
        root = self.spark()
        spark = root if self.remote else root.newSession()
        session = SparkSQLSession(self, spark)
        with self._lock:
            self._sessions.add(session)
        return session

    def forget(self, session: SparkSQLSession) -> None:
        with self._lock:
            self._sessions.discard(session)

    def list_schemas(self) -> list[str]:
        spark = self.spark()
        return [str(d.name) for d in spark.catalog.listDatabases() if d.name not in _SYSTEM_SCHEMAS]

    def list_relations(self, like: str) -> Iterator[tuple[str, str, str]]:
        spark = self.spark()
        pattern = _like(like)
        for schema in self.list_schemas():
            for table in spark.catalog.listTables(schema):
                if table.isTemporary or not fnmatch.fnmatchcase(table.name, pattern):
                    continue
                kind = "view" if str(table.tableType).upper() == "VIEW" else "table"
                yield schema, str(table.name), kind

    def health(self) -> dict[str, Any]:
        """What ``interlace info`` shows: the master (or Connect URL), Spark's version, the
        executors alive and the cores they offer."""
        spark = self.spark()
        out: dict[str, Any] = {"spark": str(spark.version)}
        if self.remote:
            out["remote"] = self.config.remote
            return out
        context = spark.sparkContext
        out["master"] = context.master
        out["default_parallelism"] = context.defaultParallelism
        try:
            status = context._jsc.sc().getExecutorMemoryStatus()
            out["executors"] = int(status.size())
        except Exception:
            pass
        out["warehouse"] = spark.conf.get("spark.sql.warehouse.dir", None)
        return out

    def close(self) -> None:
        with self._lock:
            spark, self._spark = self._spark, None
            owned, self._owned = self._owned, False
            self._sessions.clear()
        if spark is not None and owned:  # Spark stays up for the process's next run
            startup.release(spark)


def type_name(kind: Any) -> str:
    """A Spark type as Interlace names it: Spark's ``TIMESTAMP`` (an instant) by its other
    name, ``TIMESTAMP_LTZ``, which no dialect mistakes for a timestamp without time zone."""
    name = str(kind.simpleString()).upper()
    return "TIMESTAMP_LTZ" if name == "TIMESTAMP" else name


def _arrow_rows(table: pa.Table) -> list[tuple[Any, ...]]:
    columns = [c.to_pylist() for c in table.columns]
    return list(zip(*columns, strict=True)) if columns else []


def _arrow_schema(schema: Any) -> pa.Schema:
    """The Arrow schema of a Spark result: timestamps (instants) in UTC, TIMESTAMP_NTZ
    without a time zone."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema, timestamp_utc=True)


def _row_batches(rows: Iterator[Any], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Spark's rows as Arrow batches of at most :data:`ROWS_PER_BATCH` rows.

    pyspark hands an instant (TIMESTAMP) over as a naive datetime in this process's local
    time; it is made an aware one, which Arrow stores in UTC."""
    import datetime as dt

    import pyarrow as pa

    instants = {
        i for i, f in enumerate(schema) if pa.types.is_timestamp(f.type) and f.type.tz is not None
    }

    def batch(chunk: list[Any]) -> pa.RecordBatch:
        columns = []
        for i, field in enumerate(schema):
            values = [_plain(row[i]) for row in chunk]
            if i in instants:
                values = [
                    v.astimezone(dt.UTC) if isinstance(v, dt.datetime) and v.tzinfo is None else v
                    for v in values
                ]
            columns.append(pa.array(values, type=field.type))
        return pa.RecordBatch.from_arrays(columns, schema=schema)

    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= ROWS_PER_BATCH:
            yield batch(chunk)
            chunk = []
    if chunk:
        yield batch(chunk)


def _plain(value: Any) -> Any:
    """A value of a Spark row as Arrow takes it (structs as dicts, maps as pairs)."""
    from pyspark.sql import Row

    if isinstance(value, Row):
        return {k: _plain(v) for k, v in value.asDict().items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return [(k, _plain(v)) for k, v in value.items()]
    return value


def _own_aliases(statement: exp.Expr) -> exp.Expr:
    """``statement`` with its table aliases renamed ``__il_<alias>`` (everywhere, so scopes
    stay as they were): Spark resolves ``t.k`` to a field of a column ``t`` before a table
    aliased ``t`` (a model with a column named like an alias Interlace's statements use)."""
    aliases = {
        a.name
        for a in statement.find_all(exp.TableAlias)
        if a.name and isinstance(a.parent, (exp.Table, exp.Subquery)) and a.this is not None
    }
    aliases -= {t.name for t in statement.find_all(exp.Table)}  # also a table's own name
    aliases -= {c.alias for c in statement.find_all(exp.CTE)}
    aliases = {a for a in aliases if not a.startswith("__il_")}
    if not aliases:
        return statement
    statement = statement.copy()
    renamed = {a: f"__il_{a}" for a in aliases}
    for alias in statement.find_all(exp.TableAlias):
        if alias.name in renamed and isinstance(alias.parent, (exp.Table, exp.Subquery)):
            alias.set("this", exp.to_identifier(renamed[alias.name], quoted=True))
    for column in statement.find_all(exp.Column):
        if column.table in renamed:
            column.set("table", exp.to_identifier(renamed[column.table], quoted=True))
    return statement


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema, prefer_timestamp_ntz=True)


def _creates_view(statement: exp.Expr) -> bool:
    return (
        isinstance(statement, exp.Create)
        and str(statement.args.get("kind") or "").upper() == "VIEW"
        and isinstance(statement.this, exp.Table)
        and isinstance(statement.args.get("expression"), exp.Query)
        and not _temporary(statement)
    )


def _temporary(statement: exp.Create) -> bool:
    properties = statement.args.get("properties")
    return properties is not None and any(
        isinstance(p, exp.TemporaryProperty) for p in properties.expressions
    )


def _replaces_table(statement: exp.Expr) -> bool:
    return (
        isinstance(statement, exp.Create)
        and bool(statement.args.get("replace"))
        and str(statement.args.get("kind") or "").upper() == "TABLE"
    )
