"""Turning whatever a Python model returns into a relation the engine can read.

Supported: an ibis expression (compiled to SQL, runs inside the engine), a pyarrow Table or
RecordBatchReader, a pandas or polars DataFrame, a list of dicts, a dict of columns, an iterator
or generator of Arrow batches or dict rows (streamed in bounded memory), or ``None``.
Arrow and ibis results never pass through pandas or Python lists.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from interlace.errors import RunCancelledError, UnsupportedResultError

if TYPE_CHECKING:
    import pyarrow as pa

    from interlace.engines.base import Session

ROWS_PER_BATCH = 10_000


@dataclass
class Source:
    """A relation to read a model's result from: a query plus in-memory data it scans."""

    query: exp.Query
    registrations: dict[str, Any] = field(default_factory=dict)
    columns: list[str] | None = None  # known up front (Arrow schema, ibis schema)
    is_sql: bool = False  # the query runs wholly inside the engine (a view is possible)
    empty: bool = False  # the model returned no rows and no schema
    # what the model's own iterator raised while the engine read it (the engine rewraps it in
    # its own error; the runner reports this one instead)
    iterator_errors: list[BaseException] = field(default_factory=list)


def _module_of(value: Any) -> str:
    return type(value).__module__.split(".", 1)[0]


def _is_ibis(value: Any) -> bool:
    return _module_of(value) == "ibis" and hasattr(value, "schema") and hasattr(value, "op")


def _registered(
    name: str, data: Any, columns: list[str] | None, errors: list[BaseException] | None = None
) -> Source:
    return Source(
        query=exp.select("*").from_(exp.to_table(name)),
        registrations={name: data},
        columns=columns,
        iterator_errors=errors if errors is not None else [],
    )


def _recording(
    batches: Iterator[pa.RecordBatch], errors: list[BaseException]
) -> Iterator[pa.RecordBatch]:
    """Yield ``batches``, remembering the exception they raise before it crosses the engine."""
    try:
        yield from batches
    except Exception as exc:
        errors.append(exc)
        raise


def _cancellable(items: Iterator[Any], cancelled: threading.Event | None) -> Iterator[Any]:
    """Stop pulling from a model's iterator as soon as the run is cancelled."""
    if cancelled is None:
        yield from items
        return
    for item in items:
        if cancelled.is_set():
            raise RunCancelledError("the run was cancelled while the model was producing rows")
        yield item


def to_source(
    value: Any,
    session: Session,
    *,
    register_as: str,
    model: str,
    cancelled: threading.Event | None = None,
) -> Source | None:
    """Normalise a model's return value; ``None`` means the model produced no relation.

    ``cancelled`` (the run's cancel flag) is checked between the items of an iterator result.
    """
    if value is None:
        return None
    if _is_ibis(value):
        return _ibis_source(value, session, register_as)
    module = _module_of(value)
    if module == "pyarrow":
        import pyarrow as pa

        if isinstance(value, pa.Table):
            return _registered(register_as, value, value.column_names)
        if isinstance(value, pa.RecordBatch):
            return _registered(register_as, pa.Table.from_batches([value]), value.schema.names)
        if isinstance(value, pa.RecordBatchReader):
            return _registered(register_as, value, value.schema.names)
    if module == "pandas" and hasattr(value, "columns") and hasattr(value, "dtypes"):
        return _registered(register_as, value, [str(c) for c in value.columns])
    if module == "polars":
        if hasattr(value, "collect") and not hasattr(value, "to_arrow"):  # LazyFrame
            value = value.collect()
        if hasattr(value, "to_arrow"):
            table = value.to_arrow()
            return _registered(register_as, table, table.column_names)
    if isinstance(value, Mapping):
        import pyarrow as pa

        try:
            table = pa.table({str(k): v for k, v in value.items()})
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            raise UnsupportedResultError(
                f"the returned dict of columns cannot become a table: {exc}",
                model=model,
                hint="return a dict of equal-length lists/arrays, e.g. {'id': [1, 2]}",
            ) from None
        return _registered(register_as, table, table.column_names)
    if isinstance(value, list):
        return _list_source(value, register_as, model)
    if isinstance(value, AsyncIterator):
        value = _sync_iter(value)
    if isinstance(value, Iterator) or (
        isinstance(value, Iterable) and not isinstance(value, (str, bytes))
    ):
        return _iterator_source(_cancellable(iter(value), cancelled), register_as, model)
    raise UnsupportedResultError(
        f"returned a {type(value).__module__}.{type(value).__qualname__}, which Interlace cannot "
        "materialize",
        model=model,
        hint="return an ibis expression, a pyarrow Table/RecordBatchReader, a pandas or polars "
        "DataFrame, a list of dicts, a dict of columns, an iterator of batches or dict rows, "
        "or None",
    )


def _ibis_source(expr: Any, session: Session, register_as: str) -> Source:
    backend = session.ibis()
    try:
        own = expr._find_backend(use_default=False) is backend
    except Exception:
        own = False
    if not own:
        try:
            found = expr._find_backend(use_default=False)
        except Exception:
            found = None
        if found is not None:
            # built on another connection: stream it across as Arrow batches
            reader = found.to_pyarrow_batches(expr)
            return _registered(register_as, reader, reader.schema.names)
    backend._run_pre_execute_hooks(expr)  # registers ibis.memtable data on this session
    query = backend.compiler.to_sqlglot(expr)
    return Source(query=query, columns=list(expr.schema().names), is_sql=True)


def _list_source(rows: list[Any], register_as: str, model: str) -> Source:
    if not rows:
        return Source(query=exp.select("*"), empty=True)
    if not all(isinstance(r, Mapping) for r in rows):
        bad = next(r for r in rows if not isinstance(r, Mapping))
        raise UnsupportedResultError(
            f"returned a list containing a {type(bad).__name__}; lists must hold dict rows",
            model=model,
            hint="return [{'col': value, ...}, ...] or a pyarrow Table",
        )
    table = _rows_to_table(rows, None, model, 0)
    return _registered(register_as, table, table.column_names)


def _rows_to_table(rows: list[Any], schema: pa.Schema | None, model: str, offset: int) -> pa.Table:
    import pyarrow as pa

    if schema is not None:
        known = set(schema.names)
        for i, row in enumerate(rows):
            extra = set(row) - known
            if extra:
                raise UnsupportedResultError(
                    f"row {offset + i} has column(s) {sorted(extra)} that the first rows did not "
                    "have",
                    model=model,
                    hint="declare every column in fields= so the schema is known up front",
                )
    try:
        if schema is None:
            # every key of every row (pyarrow alone would keep only the first row's keys)
            keys = dict.fromkeys(key for row in rows for key in row)
            return pa.table({str(key): [row.get(key) for row in rows] for key in keys})
        return pa.Table.from_pylist(rows, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise UnsupportedResultError(
            f"rows {offset}..{offset + len(rows) - 1} cannot become a table: {exc}",
            model=model,
            hint="keep one type per column (declare fields= to fix the types)",
        ) from None


def _iterator_source(items: Iterator[Any], register_as: str, model: str) -> Source:
    import pyarrow as pa

    try:
        first = next(items)
    except StopIteration:
        return Source(query=exp.select("*"), empty=True)
    errors: list[BaseException] = []
    if isinstance(first, (pa.RecordBatch, pa.Table)):
        schema = first.schema

        def batches() -> Iterator[pa.RecordBatch]:
            for item in itertools.chain([first], items):
                if isinstance(item, pa.Table):
                    yield from item.cast(schema).to_batches()
                elif isinstance(item, pa.RecordBatch):
                    yield item if item.schema.equals(schema) else item.cast(schema)
                else:
                    raise UnsupportedResultError(
                        f"the iterator mixed Arrow batches with a {type(item).__name__}",
                        model=model,
                        hint="yield only pyarrow RecordBatches/Tables, or only dict rows",
                    )

        reader = pa.RecordBatchReader.from_batches(schema, _recording(batches(), errors))
        return _registered(register_as, reader, schema.names, errors)
    if isinstance(first, Mapping):
        head = [first, *itertools.islice(items, ROWS_PER_BATCH - 1)]
        first_table = _rows_to_table(head, None, model, 0)
        schema = first_table.schema

        def row_batches() -> Iterator[pa.RecordBatch]:
            yield from first_table.to_batches()
            offset = len(head)
            while True:
                chunk = list(itertools.islice(items, ROWS_PER_BATCH))
                if not chunk:
                    return
                if not all(isinstance(r, Mapping) for r in chunk):
                    raise UnsupportedResultError(
                        "the iterator mixed dict rows with other values",
                        model=model,
                        hint="yield only dict rows, or only Arrow batches",
                    )
                yield from _rows_to_table(chunk, schema, model, offset).to_batches()
                offset += len(chunk)

        reader = pa.RecordBatchReader.from_batches(schema, _recording(row_batches(), errors))
        return _registered(register_as, reader, schema.names, errors)
    raise UnsupportedResultError(
        f"the iterator yielded a {type(first).__name__}; iterators must yield Arrow batches or "
        "dict rows",
        model=model,
        hint="yield pyarrow.RecordBatch objects or dicts",
    )


def _sync_iter(agen: AsyncIterator[Any]) -> Iterator[Any]:
    """Drive an async iterator from a worker thread (each model thread owns its loop)."""
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                yield loop.run_until_complete(agen.__anext__())
            except StopAsyncIteration:
                return
    finally:
        loop.close()
