"""Any Arrow-compatible model result as bounded batches, for engines that load rows themselves
(COPY on PostgreSQL, batched inserts on generic ibis backends)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa


def as_batches(data: Any, max_rows: int) -> tuple[pa.Schema, Iterable[pa.RecordBatch]]:
    """The schema and batches of at most ``max_rows`` rows of ``data`` (an Arrow table, batch
    or reader, a pandas or polars DataFrame, or anything with ``__arrow_c_stream__``), without
    materialising a stream."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data.schema, data.to_batches(max_chunksize=max_rows)
    if isinstance(data, pa.RecordBatch):
        return data.schema, chunked([data], max_rows)
    if isinstance(data, pa.RecordBatchReader):
        return data.schema, chunked(data, max_rows)
    module = type(data).__module__.split(".", 1)[0]
    if module == "pandas":
        first = pa.RecordBatch.from_pandas(data.iloc[:max_rows], preserve_index=False)

        def frames() -> Iterator[pa.RecordBatch]:
            yield first
            for start in range(max_rows, len(data), max_rows):
                chunk = data.iloc[start : start + max_rows]
                yield pa.RecordBatch.from_pandas(chunk, schema=first.schema, preserve_index=False)

        return first.schema, frames()
    if module == "polars" and hasattr(data, "to_arrow"):
        table = data.to_arrow()
        return table.schema, table.to_batches(max_chunksize=max_rows)
    if hasattr(data, "__arrow_c_stream__"):
        reader = pa.RecordBatchReader.from_stream(data)
        return reader.schema, chunked(reader, max_rows)
    raise TypeError(f"cannot load a {type(data).__module__}.{type(data).__qualname__}")


def chunked(batches: Iterable[pa.RecordBatch], max_rows: int) -> Iterator[pa.RecordBatch]:
    """Split batches larger than ``max_rows``."""
    for batch in batches:
        if batch.num_rows <= max_rows:
            yield batch
        else:
            for start in range(0, batch.num_rows, max_rows):
                yield batch.slice(start, max_rows)
