"""Streams as a model kind: every declared stream is a **source** node of the project graph.

Runs never build a stream (ingestion fills its table); models that read it depend on it like on
any model, and run again when its committed offset (:meth:`StreamKind.data_version`) moves.
Declared by :func:`~interlace_stream.declaration.stream` values in model files, or under
``streams:`` in ``config.yaml``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from interlace.kinds import Declaration, ModelKind

from interlace_stream.declaration import Stream, StreamSettings, parse_settings
from interlace_stream.schema import StreamFields

if TYPE_CHECKING:
    from interlace.kinds import SourceContext
    from interlace.project import Project
    from interlace.spec import ModelSpec

KIND = "stream"
OFFSETS_TABLE = "_interlace_stream_offsets"
QUARANTINE_SUFFIX = "__quarantine"


def quote(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    """``"schema"."name"`` (or ``"database"."schema"."name"``), quoted."""
    return ".".join(quote(part) for part in (*schema.split("."), name))


def _options(name: str, settings: StreamSettings) -> dict[str, Any]:
    options: dict[str, Any] = {"fields": dict(settings.fields)}
    if settings.schema_ is not None:
        options["schema"] = settings.schema_
    if settings.connection is not None:
        options["connection"] = settings.connection
    if settings.description:
        options["description"] = settings.description
    if settings.tags:
        options["tags"] = list(settings.tags)
    return options


class StreamKind(ModelKind):
    """The ``stream`` model kind (see the module docstring)."""

    name = KIND

    def declaration(self, name: str, value: Any) -> Declaration | None:
        if not isinstance(value, Stream):
            return None
        stream_name = value.name or name
        return Declaration(
            name=stream_name,
            options=_options(stream_name, value.settings),
            definition=value.settings,
            file=value.file,
            line=value.line,
        )

    def config_declarations(self, sections: Mapping[str, Any]) -> list[Declaration]:
        section = sections.get("streams")
        if section is None:
            return []
        found = []
        for name, settings in section.root.items():
            found.append(
                Declaration(name=name, options=_options(name, settings), definition=settings)
            )
        return found

    def fingerprint(self, spec: ModelSpec) -> str:
        settings: StreamSettings = spec.definition
        return json.dumps(
            {
                "fields": {k: str(v) for k, v in settings.fields.items()},
                "mode": settings.validate_schema,
            },
            sort_keys=True,
        )

    def data_version(self, spec: ModelSpec, context: SourceContext) -> int | None:
        """The stream's committed offset: readers run again when new events were committed.

        A stream that never received an event has no table yet: it is created empty here (as
        ingestion would create it), so a run without any server builds its readers on zero
        rows instead of failing on a missing table."""
        session = context.session
        if session.relation_kind(spec.schema, spec.name) is None:
            _create_empty_table(session, spec)
        if session.relation_kind(spec.schema, OFFSETS_TABLE) is None:
            return 0
        name = spec.name.replace("'", "''")
        row = session.fetch_one(
            f"SELECT committed FROM {qualified(spec.schema, OFFSETS_TABLE)} WHERE stream = '{name}'"
        )
        return 0 if row is None else int(row[0])


def _create_empty_table(session: Any, spec: ModelSpec) -> None:
    """The stream's table with its declared fields and the stream columns, without rows."""
    settings: StreamSettings = spec.definition
    columns = ", ".join(
        f"{quote(name)} {sql}" for name, sql in StreamFields.of(settings.fields).table_columns()
    )
    schema = ".".join(quote(part) for part in spec.schema.split("."))
    # as syntax trees: each engine writes them in its own dialect (Spark's backticks, ...)
    import sqlglot

    for statement in (
        f"CREATE SCHEMA IF NOT EXISTS {schema}",
        f"CREATE TABLE IF NOT EXISTS {qualified(spec.schema, spec.name)} ({columns})",
    ):
        session.execute(sqlglot.parse_one(statement, read="duckdb"))


@dataclass(frozen=True)
class StreamInfo:
    """One declared stream, as ingestion uses it."""

    name: str
    settings: StreamSettings
    fields: StreamFields
    schema: str
    connection: str
    spec: ModelSpec

    @property
    def table(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def quarantine_table(self) -> str:
        return f"{self.schema}.{self.name}{QUARANTINE_SUFFIX}"

    @property
    def mode(self) -> str:
        return self.settings.validate_schema


def project_streams(project: Project) -> dict[str, StreamInfo]:
    """The streams a project declares, by name."""
    found: dict[str, StreamInfo] = {}
    for spec in project.models.values():
        if spec.kind != KIND:
            continue
        settings: StreamSettings = spec.definition
        found[spec.name] = StreamInfo(
            name=spec.name,
            settings=settings,
            fields=StreamFields.of(settings.fields),
            schema=spec.schema,
            connection=spec.connection,
            spec=spec,
        )
    return found


def readers_of(project: Project, streams: set[str] | list[str]) -> list[str]:
    """The models that read any of ``streams`` directly (what a commit triggers)."""
    wanted = set(streams)
    return sorted(
        spec.name
        for spec in project.models.values()
        if spec.kind != KIND and wanted & set(spec.depends_on)
    )


__all__ = ["KIND", "StreamInfo", "StreamKind", "parse_settings", "project_streams", "readers_of"]
