"""Declaring a stream: ``@stream`` / ``stream(...)`` in a model file, or ``streams:`` in config.

A stream is an append-only event table that ingestion fills (``POST /api/v1/streams/{name}``,
:func:`interlace_stream.publish`, adapters); models read it like any model. Example
(``models/events.py``)::

    from interlace_stream import stream

    orders = stream(
        "orders",
        fields={"id": "int64", "amount": "float64", "customer": "string"},
        validate_schema="validate",       # or "evolve" (add columns), "quarantine"
        retention={"max_age": "30d"},
        rate_limit="100/s",
    )

    @stream(fields={"user": "string", "page": "string"})
    def clicks():
        '''Page views from the web site.'''

and the same in ``config.yaml``::

    streams:
      orders:
        fields: {id: int64, amount: float64, customer: string}
        validate_schema: validate
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from interlace.errors import ModelDefinitionError
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, field_validator

SchemaModeName = Literal["validate", "evolve", "quarantine"]

# columns every stream table has besides its declared fields
OFFSET_COLUMN = "_stream_offset"
ID_COLUMN = "_stream_event_id"
RECEIVED_COLUMN = "_stream_received_at"
SYSTEM_COLUMNS = (OFFSET_COLUMN, ID_COLUMN, RECEIVED_COLUMN)


class Retention(BaseModel):
    """How long a stream keeps events: ``max_age`` (a duration, ``30d``) and/or ``max_rows``."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    max_age: str | None = None
    """Delete events older than this (a duration, `30d`)."""
    max_rows: int | None = Field(default=None, ge=1)
    """Keep at most this many events (the oldest go first)."""

    @field_validator("max_age")
    @classmethod
    def _age(cls, value: str | None) -> str | None:
        if value is not None:
            from interlace.durations import parse_duration

            parse_duration(value)  # ValueError names the accepted forms
        return value

    def max_age_seconds(self) -> float | None:
        if self.max_age is None:
            return None
        from interlace.durations import parse_duration

        return parse_duration(self.max_age).total_seconds()


class StreamAuth(BaseModel):
    """Per-stream credentials: ``token`` (sent as ``Authorization: Bearer`` or
    ``X-Stream-Token``) lets a publisher in without an API key; ``public: true`` opens
    publishing to anyone (webhooks that sign their own requests)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    token: str | None = None
    """A token that lets a publisher in without an API key (sent as `Authorization: Bearer` or
    `X-Stream-Token`; use `${VAR}`)."""
    public: bool = False
    """Anyone may publish (webhooks that sign their own requests)."""


class StreamSettings(BaseModel):
    """Everything a stream declares (the keyword arguments of :func:`stream`)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True
    )

    fields: dict[str, Any] = Field(default_factory=dict)
    """The events' fields and their types (`{id: int64, amount: float64}`): the stream table's
    columns."""
    validate_schema: SchemaModeName = "validate"
    """What an event that does not fit `fields` does: `validate` (refused), `evolve` (new fields
    become columns) or `quarantine` (set aside)."""
    retention: Retention | None = None
    """How long the stream keeps events (default: for ever)."""
    auth: StreamAuth | None = None
    """Who may publish besides API keys with the `write` scope."""
    rate_limit: str | float | None = None
    """Publishes per second the stream accepts (`100`, `100/s`, `6000/min`)."""
    schema_: str | None = Field(default=None, alias="schema")
    """The database schema of the stream's table, as for a model."""
    connection: str | None = None
    """The connection the stream's table is written to, as for a model."""
    description: str | None = None
    """What the stream holds (shown in the UI and the API)."""
    tags: tuple[str, ...] = ()
    """Tags of the stream, as for a model (`tag:x` selects it)."""
    adapters: tuple[dict[str, Any], ...] = ()
    """Adapters that fill the stream from elsewhere (a webhook, a queue, a folder): each a mapping
    with its `type` and options."""

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        from interlace.types import TypeSpecError, to_sql_type

        for column, declared in value.items():
            if column in SYSTEM_COLUMNS:
                raise ValueError(f"field '{column}' is a column every stream adds; rename it")
            try:
                to_sql_type(declared)
            except TypeSpecError as exc:
                raise ValueError(f"field '{column}': {exc}") from None
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            from interlace_http.settings import _per_second

            rate = float(_per_second(value))
            if rate <= 0:
                raise ValueError("rate_limit must be more than 0 per second")
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    def rate_per_second(self) -> float | None:
        if self.rate_limit is None:
            return None
        from interlace_http.settings import _per_second

        return float(_per_second(self.rate_limit))


@dataclass(frozen=True)
class Stream:
    """A declared stream (what :func:`stream` returns); model files bind it to a name."""

    name: str | None
    settings: StreamSettings
    file: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)


def parse_settings(
    raw: Mapping[str, Any], *, name: str, file: str | None = None, line: int | None = None
) -> StreamSettings:
    """Validate a stream's keywords; errors name the stream, the key and the file."""
    try:
        return StreamSettings.model_validate(dict(raw))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "stream"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                allowed = ", ".join(
                    sorted(f.alias or k for k, f in StreamSettings.model_fields.items())
                )
                message = f"unknown option (a stream takes: {allowed})"
            problems.append(f"{where}: {message}")
        raise ModelDefinitionError(
            f"stream '{name}': " + "; ".join(problems),
            file=file,
            line=line,
            model=name,
            hint="fix the stream's declaration (see docs/streams.md)",
        ) from None


def stream(
    name: str | Callable[..., Any] | None = None,
    *,
    fields: Mapping[str, Any] | None = None,
    schema: str | None = None,
    validate_schema: SchemaModeName = "validate",
    retention: Mapping[str, Any] | Retention | None = None,
    auth: Mapping[str, Any] | StreamAuth | None = None,
    rate_limit: str | float | None = None,
    connection: str | None = None,
    description: str | None = None,
    tags: tuple[str, ...] | list[str] | str = (),
    adapters: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (),
) -> Any:
    """Declare a stream: ``orders = stream("orders", fields={...})``, or as a decorator on a
    function whose name (and docstring) name (and describe) the stream::

        @stream(fields={"user": "string"})
        def clicks():
            '''Page views.'''
    """
    caller = sys._getframe(1)
    file, line = caller.f_code.co_filename, caller.f_lineno
    raw: dict[str, Any] = {
        "fields": dict(fields or {}),
        "validate_schema": validate_schema,
        "retention": retention,
        "auth": auth,
        "rate_limit": rate_limit,
        "schema": schema,
        "connection": connection,
        "description": description,
        "tags": tags,
        "adapters": tuple(adapters),
    }
    if callable(name):  # bare @stream
        fn = name
        return _from_function(fn, raw)
    label = name or "stream"
    settings = parse_settings(raw, name=label, file=file, line=line)
    if name is None:

        def decorate(fn: Callable[..., Any]) -> Stream:
            return _from_function(fn, raw)

        return decorate
    return Stream(name=name, settings=settings, file=file, line=line)


def _from_function(fn: Callable[..., Any], raw: dict[str, Any]) -> Stream:
    doc = inspect.getdoc(fn)
    if doc and not raw.get("description"):
        raw = {**raw, "description": doc}
    code = getattr(fn, "__code__", None)
    file = code.co_filename if code else None
    line = code.co_firstlineno if code else None
    settings = parse_settings(raw, name=fn.__name__, file=file, line=line)
    return Stream(name=fn.__name__, settings=settings, file=file, line=line)


class StreamsSection(RootModel[dict[str, StreamSettings]]):
    """The ``streams:`` section of ``config.yaml``: stream name -> its settings."""

    model_config = ConfigDict(frozen=True)
