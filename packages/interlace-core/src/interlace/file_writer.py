"""Arrow batches streamed into a local CSV, Parquet or JSON file.

The writer of engines that cannot write files themselves (DuckDB's COPY can) and of exports;
it sits low so that engines can use it without importing the export machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interlace.errors import ModelExecutionError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pyarrow as pa


class ExportError(ModelExecutionError):
    """An export could not be written (bad path, engine refused the COPY)."""


def write_arrow_file(
    data: pa.RecordBatchReader, path: str, file_format: str, options: Mapping[str, Any]
) -> None:
    """Stream Arrow batches into a local CSV, Parquet or JSON file, one batch in memory at a
    time, with the export options DuckDB's COPY takes (``header``, ``delimiter``,
    ``compression``, ``array``) and its defaults (a header row, ``,``, snappy, one JSON
    object per line)."""
    if file_format == "parquet":
        import pyarrow.parquet as pq

        compression = str(options.get("compression") or "snappy").lower()
        with pq.ParquetWriter(
            path, data.schema, compression=None if compression == "uncompressed" else compression
        ) as writer:
            for batch in data:
                writer.write_batch(batch)
    elif file_format == "csv":
        import pyarrow.csv as pacsv

        write_options = pacsv.WriteOptions(
            include_header=bool(options.get("header", True)),
            delimiter=str(options.get("delimiter") or ","),
        )
        with pacsv.CSVWriter(path, data.schema, write_options=write_options) as writer:
            for batch in data:
                writer.write_batch(batch)
    elif file_format == "json":
        _write_json(data, path, bool(options.get("array", False)))
    else:
        raise ExportError(f"unknown export format {file_format!r}", hint="use csv, parquet or json")


def _write_json(data: pa.RecordBatchReader, path: str, array: bool) -> None:
    import decimal
    import json

    def plain(value: Any) -> Any:
        if isinstance(value, decimal.Decimal):
            return float(value)
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return str(value)  # dates and times as DuckDB writes them: 2024-01-31 12:00:00

    first = True
    with open(path, "w", encoding="utf-8") as out:
        if array:
            out.write("[")
        for batch in data:
            for row in batch.to_pylist():
                text = json.dumps(row, default=plain, ensure_ascii=False, separators=(",", ":"))
                if array:
                    out.write(("" if first else ",") + "\n" + text)
                else:
                    out.write(text + "\n")
                first = False
        if array:
            out.write("\n]\n")
