"""``interlace export MODEL`` and :func:`export_model`: a model's current table to a file.

The model's ``export=`` option (see :mod:`interlace.export`) applies after each run; this writes
one on demand, with the option's settings overridden by the caller's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace.errors import InterlaceError
from interlace.export import (
    _FORMAT_OPTIONS,
    FORMATS,
    ExportError,
    ExportOptions,
    format_of,
    placeholder_values,
    write_export,
)

if TYPE_CHECKING:
    from interlace.project import Project


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
