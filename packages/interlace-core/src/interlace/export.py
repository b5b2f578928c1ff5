"""Exports: a model's table written to a CSV, Parquet or JSON file (SPEC §14.2).

A model declares ``export={"format": "parquet", "path": "exports/{name}.parquet"}``; after each
successful run of that model its published table is written with the engine's own COPY, so rows
never pass through Python. ``interlace export MODEL`` (or :func:`export_model`) does the same on
demand (:mod:`interlace.export_on_demand`).

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

from interlace.errors import InterlaceError, first_line
from interlace.file_writer import ExportError

if TYPE_CHECKING:
    from sqlglot import exp

    from interlace.config import ProjectConfig
    from interlace.engines.base import Session

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


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


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


__all__ = [
    "ExportError",
    "ExportOptions",
    "format_of",
    "write_export",
]
