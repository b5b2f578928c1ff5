"""Exports: a model's table written to a CSV, Parquet or JSON file (SPEC §14.2).

A model declares ``export={"format": "parquet", "path": "exports/{name}.parquet"}``; after each
successful run of that model its published table is written with the engine's own COPY, so rows
never pass through Python. ``interlace export MODEL`` (or :func:`export_model`) does the same on
demand.

Paths are relative to the project root and may use ``{name}``, ``{schema}``, ``{env}``,
``{format}``, ``{run_id}`` and ``{date}``. A file is written beside its final name first and then
renamed, so a failed export never leaves half a file behind. With ``"connection": NAME`` the path
is relative to that storage connection (filesystem, S3, SFTP), which writes the file.

Example::

    @model(export={"format": "csv", "path": "exports/{env}/{name}.csv", "delimiter": ";"})
    def revenue(orders): ...
"""

from __future__ import annotations

import datetime as dt
import string
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from interlace.errors import InterlaceError, ModelExecutionError, first_line

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pyarrow as pa
    from sqlglot import exp

    from interlace.config import ProjectConfig
    from interlace.engines.base import Session
    from interlace.project import Project

ExportFormat = Literal["csv", "parquet", "json"]
FORMATS: tuple[str, ...] = ("csv", "parquet", "json")
PLACEHOLDERS = ("name", "schema", "env", "format", "run_id", "date")
SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}
DEFAULT_PATH = "exports/{name}.{format}"
# options that only make sense for one format
_FORMAT_OPTIONS = {"delimiter": "csv", "header": "csv", "compression": "parquet", "array": "json"}


class ExportError(ModelExecutionError):
    """An export could not be written (bad path, engine refused the COPY)."""


def format_of(path: str) -> str | None:
    """The export format a file name implies (``.csv`` -> csv), or None."""
    return SUFFIXES.get(Path(path).suffix.lower())


class ExportOptions(BaseModel):
    """The ``export=`` option of a model, validated when the project loads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: ExportFormat
    path: str = DEFAULT_PATH
    # a storage connection (filesystem, S3, SFTP) to write to instead of the local disk
    connection: str | None = None
    # csv
    header: bool | None = None
    delimiter: str | None = None
    # parquet
    compression: str | None = None
    # json: one JSON array instead of newline-delimited objects
    array: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _infer_format(cls, data: Any) -> Any:
        if isinstance(data, str):  # export="exports/orders.parquet"
            data = {"path": data}
        if isinstance(data, dict) and data.get("format") is None:
            path = data.get("path")
            inferred = format_of(path) if isinstance(path, str) else None
            if inferred is None:
                raise _invalid(
                    "needs a format: give format (csv, parquet or json) or a path ending in "
                    ".csv, .parquet or .json"
                )
            data = {**data, "format": inferred}
        return data

    @model_validator(mode="after")
    def _check(self) -> ExportOptions:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(self.path) if f is not None]
        except ValueError as exc:
            raise _invalid(f"path {self.path!r} is not a valid template: {exc}") from None
        unknown = [f for f in fields if f not in PLACEHOLDERS]
        if unknown:
            allowed = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            raise _invalid(f"path uses unknown placeholder {{{unknown[0]}}}; allowed: {allowed}")
        for option, fmt in _FORMAT_OPTIONS.items():
            if getattr(self, option) is not None and self.format != fmt:
                raise _invalid(f"'{option}' applies to {fmt} exports, not {self.format}")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise _invalid(f"delimiter must be one character, got {self.delimiter!r}")
        return self

    def engine_options(self) -> dict[str, Any]:
        """Format options for :meth:`Session.copy_to_file` (the engine spells them)."""
        return {k: getattr(self, k) for k in _FORMAT_OPTIONS if getattr(self, k) is not None}

    def render_path(self, **values: str) -> str:
        """The path with its placeholders filled in."""
        return self.path.format(format=self.format, **values)


def _invalid(message: str) -> PydanticCustomError:
    # a custom error keeps pydantic's "Value error, " prefix out of the message people read
    return PydanticCustomError("export_option", message)


def placeholder_values(
    *, name: str, schema: str, env: str, run_id: str = "manual", at: dt.datetime | None = None
) -> dict[str, str]:
    day = (at or dt.datetime.now()).date().isoformat()
    return {"name": name, "schema": schema, "env": env, "run_id": run_id, "date": day}


def write_export(
    session: Session,
    relation: exp.Expr,
    options: ExportOptions,
    *,
    root: Path,
    values: dict[str, str],
    model: str | None = None,
    config: ProjectConfig | None = None,
) -> Path | str:
    """Write ``relation`` to the file ``options`` name; returns the file written.

    With ``options.connection`` the file goes to that storage connection (``config`` says
    what it is) and the result is its URL (``s3://bucket/...``). Raises :class:`ExportError`
    naming the path and the cause.
    """
    if options.connection is not None:
        return _write_to_storage(session, relation, options, root, values, model, config)
    rendered = options.render_path(**values)
    path = Path(rendered)
    if not path.is_absolute():
        path = root / path
    shown = _shown(path, root)
    if path.is_dir():
        raise ExportError(
            f"cannot write export to {shown}: it is a folder",
            model=model,
            hint="give export.path a file name, e.g. exports/{name}.parquet",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(
            f"cannot write export to {shown}: cannot create folder "
            f"{_shown(path.parent, root)}: {exc.strerror or exc}",
            model=model,
            hint="fix the export path, or the folder's permissions",
        ) from None
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        session.copy_to_file(relation, str(partial), options.format, options.engine_options())
        partial.replace(path)
    except InterlaceError as exc:
        raise ExportError(exc.message, model=model, hint=exc.hint) from None
    except Exception as exc:
        raise ExportError(
            f"cannot write export to {shown}: {first_line(exc)}",
            model=model,
            hint="check export.path and that the folder is writable",
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return path


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


def _write_to_storage(
    session: Session,
    relation: exp.Expr,
    options: ExportOptions,
    root: Path,
    values: dict[str, str],
    model: str | None,
    config: ProjectConfig | None,
) -> str:
    """Export through a storage connection (filesystem, S3, SFTP): the plugin writes it."""
    from interlace.plugins import open_storage

    assert options.connection is not None
    rendered = options.render_path(**values)
    if config is None:
        raise ExportError(
            f"cannot export to storage connection '{options.connection}' without the project "
            "config",
            model=model,
        )
    try:
        storage = open_storage(config, options.connection, root)
    except InterlaceError as exc:
        raise ExportError(f"export.connection: {exc.message}", model=model, hint=exc.hint) from None
    try:
        return storage.export(session, relation, rendered, options.format, options.engine_options())
    except InterlaceError as exc:
        raise ExportError(exc.message, model=model, hint=exc.hint) from None
    except Exception as exc:
        raise ExportError(
            f"cannot write export to {rendered} on connection '{options.connection}': "
            f"{first_line(exc)}",
            model=model,
            hint="check export.path and the storage connection",
        ) from None
    finally:
        storage.close()


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def export_model(
    project: Project,
    model: str,
    *,
    format: str | None = None,
    path: str | Path | None = None,
    **options: Any,
) -> tuple[Path | str, int]:
    """Write a model's current table to a file on demand; returns ``(file, rows)``.

    ``format``/``path``/``options`` override the model's ``export=`` option; without either the
    format follows the path's suffix, else the model's option, else Parquet. A ``path`` is a
    local file unless ``connection=`` names a storage connection (then the result is its URL).

    Example::

        project = interlace.load_project(".")
        export_model(project, "daily_revenue", path="out/revenue.csv")
    """
    from interlace import statements as st
    from interlace.opening import open_engines

    spec = project.resolve(model)
    declared = spec.options.export
    data: dict[str, Any] = declared.model_dump(exclude_defaults=True) if declared else {}
    data.update({k: v for k, v in options.items() if v is not None})
    if path is not None:
        data["path"] = str(path)
        if options.get("connection") is None:  # a path given here is local, not on storage
            data.pop("connection", None)
        if format is None and format_of(str(path)) is not None:
            data.pop("format", None)
    if format is not None:
        if format not in FORMATS:
            raise ExportError(
                f"unknown export format {format!r}",
                model=spec.name,
                hint=f"use one of: {', '.join(FORMATS)}",
            )
        data["format"] = format
    if data.get("format") is None and (path is None or format_of(str(path)) is None):
        data["format"] = "parquet"
    for option, fmt in _FORMAT_OPTIONS.items():  # the model's csv options do not apply to json
        if option in data and option not in options and data.get("format") != fmt:
            data.pop(option)
    try:
        chosen = ExportOptions.model_validate(data)
    except Exception as exc:
        errors = getattr(exc, "errors", None)
        detail = errors()[0]["msg"] if callable(errors) else str(exc)
        raise ExportError(f"invalid export options: {detail}", model=spec.name) from None
    target = st.table(spec.schema, spec.name)
    engine = open_engines(project, [spec.connection])[spec.connection]
    try:
        session = engine.session()
        try:
            if session.relation_kind(spec.schema, spec.name) is None:
                raise InterlaceError(
                    f"{spec.qualified_name} does not exist in env '{project.env}'",
                    model=spec.name,
                    hint=f"run it first: interlace run {spec.name}",
                )
            rows = int(session.fetch_all(st.count_rows(target))[0][0])
            written = write_export(
                session,
                st.select_all(target),
                chosen,
                root=project.root,
                values=placeholder_values(name=spec.name, schema=spec.schema, env=project.env),
                model=spec.name,
                config=project.config,
            )
        finally:
            session.close()
    finally:
        engine.close()
    return written, rows


__all__ = [
    "ExportError",
    "ExportOptions",
    "export_model",
    "format_of",
    "write_export",
]
