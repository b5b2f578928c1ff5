"""`ModelSpec`: the frozen, validated description of one model, and the options it accepts.

Python decorators and SQL headers both validate through :class:`ModelOptions`, so a keyword
means the same thing, and fails the same way, wherever it is written.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from interlace.config import Materialize, SchemaMode, StrategyName
from interlace.durations import parse_duration
from interlace.errors import ModelDefinitionError
from interlace.export import ExportOptions
from interlace.schedules import ScheduleSpec
from interlace.types import TypeSpecError, to_sql_type

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

RESERVED_PARAMETERS = frozenset({"context", "cursor"})
# the kinds of model core knows; installed distributions add others (interlace.kinds)
BUILTIN_KINDS = ("python", "sql")


class CacheOptions(BaseModel):
    """``cache={"ttl": "7d"}``: a root model is rebuilt only when its last build is older."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ttl: str | None = None
    strategy: Literal["ttl", "if_exists", "always"] = "ttl"

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)  # raises ValueError naming the accepted forms
        return value

    @model_validator(mode="after")
    def _needs_ttl(self) -> CacheOptions:
        if self.strategy == "ttl" and self.ttl is None:
            raise ValueError("cache strategy 'ttl' needs ttl, e.g. {'ttl': '7d'}")
        return self


def _check_name(value: str | None) -> str | None:
    if value is not None and (not value or value.strip() != value or "." in value):
        raise ValueError(f"{value!r} is not a valid name (no dots, spaces or empty names)")
    return value


LOOKBACK_FORMS = (
    "write a duration for a date or timestamp cursor ('30m', '2h', '1d') or a whole number "
    "for an integer cursor (100)"
)


class CursorOptions(BaseModel):
    """``cursor="updated_at"``, or ``cursor={"column": "updated_at", "lookback": "2h"}``.

    ``lookback`` re-reads rows that arrive late: each incremental run reads the rows whose
    cursor is after the watermark minus the lookback (a duration for date and timestamp
    cursors, a count for integer cursors).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    column: str
    lookback: int | str | None = None

    @field_validator("column")
    @classmethod
    def _column(cls, value: str) -> str:
        _check_name(value)
        return value

    @field_validator("lookback", mode="before")
    @classmethod
    def _lookback(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError(
                f"lookback {value!r} is neither a duration nor a count: {LOOKBACK_FORMS}"
            )
        if isinstance(value, int):
            if value <= 0:
                raise ValueError(f"lookback {value} must be greater than zero: {LOOKBACK_FORMS}")
            return value
        try:
            parse_duration(value)
        except ValueError:
            raise ValueError(f"invalid lookback {value!r}: {LOOKBACK_FORMS}") from None
        return value

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        # a plain cursor dumps (and fingerprints) as its column, the way it is written
        return self.column if self.lookback is None else handler(self)


class SCD2Options(BaseModel):
    """Options of the `scd_type_2` strategy (column names and which columns are versioned).

    ``valid_from_column``: a column of the result (``updated_at``) whose value a new version is
    valid from, and the version it replaces valid until, in place of the run's time (dbt's
    timestamp strategy).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    tracked_columns: tuple[str, ...] | None = None
    valid_from_column: str | None = None
    valid_from: str = "valid_from"
    valid_to: str = "valid_to"
    is_current: str = "is_current"
    hash_column: str = "_scd_hash"
    deleted_column: str = "_is_deleted"


class ColumnDoc(BaseModel):
    """What ``fields`` says of one column beside its type: ``fields={"id": {"type": "int64",
    "description": "The order id", "checks": ["not_null", "unique"]}}``. A Python model that
    does not return an ibis expression may also name the upstream columns it computes the
    column from (``"sources": ["orders.amount"]``) for column lineage."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str | None = None
    checks: tuple[Any, ...] = ()
    sources: tuple[str, ...] = ()

    @field_validator("sources", mode="before")
    @classmethod
    def _sources(cls, value: Any) -> Any:
        value = (value,) if isinstance(value, str) else value
        for item in value or ():
            if not isinstance(item, str) or "." not in item.strip(".") or " " in item:
                raise ValueError(f"source {item!r} is not MODEL.COLUMN (e.g. 'orders.amount')")
        return value


COLUMN_KEYS = ("type", "description", "checks", "sources")


class ModelOptions(BaseModel):
    """Every option a model may declare (decorator keywords or SQL header keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    database: str | None = None  # an attachment of the model's DuckDB connection
    connection: str | None = None
    materialize: Materialize | None = None
    strategy: StrategyName | None = None
    primary_key: tuple[str, ...] = ()
    dependencies: tuple[str, ...] | dict[str, str] = ()
    cursor: CursorOptions | None = None
    schedule: ScheduleSpec | None = None  # when `interlace serve` runs the model alone
    sla: str | None = None  # freshness: alerts when not built successfully for this long
    cache: CacheOptions | None = None
    schema_mode: SchemaMode | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    strict: bool = False
    column_mapping: dict[str, str] = Field(default_factory=dict)
    quality_checks: tuple[Any, ...] = ()
    retry_policy: Any = None
    export: ExportOptions | None = None
    tags: tuple[str, ...] = ()
    owner: str | None = None
    description: str | None = None
    delete_mode: str | None = None
    exact_counts: bool = Field(
        default=False,
        description=(
            "merge_by_key: count as `updated` only the rows whose values changed (one more "
            "join of the batch with the table). By default `updated` counts every batch row "
            "whose key was already in the table (each is rewritten)."
        ),
    )
    scd2: SCD2Options = Field(default_factory=SCD2Options)
    # descriptions, checks and sources of columns, split from `fields` by parse_options
    column_docs: dict[str, ColumnDoc] = Field(default_factory=dict)

    @field_validator("primary_key", "tags", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, str):
            return (value,)
        return value

    @field_validator("dependencies", mode="before")
    @classmethod
    def _deps(cls, value: Any) -> Any:
        if isinstance(value, str):
            return (value,)
        return value

    @field_validator("retry_policy")
    @classmethod
    def _retry(cls, value: Any) -> Any:
        from interlace.retry import RetryPolicy

        return RetryPolicy.from_value(value)

    @field_validator("sla")
    @classmethod
    def _sla(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)  # a ValueError names the accepted forms
        return value

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        for column, declared in value.items():
            try:
                to_sql_type(declared)
            except TypeSpecError as exc:
                raise ValueError(f"column '{column}': {exc}") from None
        return value

    @field_validator("name", "schema_", "database", "connection")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        return _check_name(value)

    @field_validator("cursor", mode="before")
    @classmethod
    def _cursor(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"column": value}
        if value is None or isinstance(value, (dict, CursorOptions)):
            return value
        raise ValueError(
            f"cursor {value!r} is neither a column name ('updated_at') nor a mapping "
            "({'column': 'updated_at', 'lookback': '2h'})"
        )


ALLOWED_OPTIONS = tuple(
    sorted({"schema", "materialise", *ModelOptions.model_fields} - {"schema_", "column_docs"})
)


def parse_options(
    raw: dict[str, Any],
    *,
    where: tuple[str | None, int | None],
    model: str | None,
    lines: Mapping[str, int] | None = None,
) -> ModelOptions:
    """Validate raw options; every problem names the option, the file/line and the fix.

    ``lines`` maps an option to its own line (SQL header lines), so errors point at it.
    """

    def line_of(key: str) -> int | None:
        known = lines or {}
        spelled = "materialise" if key == "materialize" else key
        return known.get(key) or known.get(spelled) or where[1]

    data = dict(raw)
    if "materialise" in data:
        if "materialize" in data:
            raise ModelDefinitionError(
                "both 'materialize' and 'materialise' are given",
                file=where[0],
                line=where[1],
                model=model,
                hint="keep one of them",
            )
        data["materialize"] = data.pop("materialise")
    if "schema_" in data:
        data["schema"] = data.pop("schema_")
    unknown = [k for k in data if k not in ALLOWED_OPTIONS]
    if not unknown:
        data = split_fields(data, where, model, line_of("fields"))
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, ALLOWED_OPTIONS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ModelDefinitionError(
            f"unknown model option '{key}'",
            file=where[0],
            line=line_of(key),
            model=model,
            hint=f"{hint}allowed options: {', '.join(ALLOWED_OPTIONS)}",
        )
    try:
        options = ModelOptions.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = ".".join(str(p) for p in error["loc"]).replace("schema_", "schema")
        if error["type"] == "literal_error":
            message = f"option '{loc}' has invalid value {error.get('input')!r}"
            hint = f"use one of {error.get('ctx', {}).get('expected')}"
        elif error["type"] == "extra_forbidden" and len(error["loc"]) == 2:
            parent, key = (str(p) for p in error["loc"])
            message = f"option '{parent}' has unknown key '{key}'"
            hint = f"allowed keys: {', '.join(_nested_keys(parent))}"
        else:
            message = f"option '{loc}': {error['msg']}"
            hint = ""
            if isinstance(error.get("input"), dict) and "string" in error["msg"]:
                hint = "in a SQL header, quote values that contain ': ' (YAML reads a mapping)"
        key = str(error["loc"][0]).replace("schema_", "schema") if error["loc"] else ""
        raise ModelDefinitionError(
            message, file=where[0], line=line_of(key), model=model, hint=hint or None
        ) from None
    check_strategy_options(options, where, model)
    return options


def split_fields(
    data: dict[str, Any], where: tuple[str | None, int | None], model: str | None, line: int | None
) -> dict[str, Any]:
    """``fields`` entries written as mappings (``{"type": ..., "description": ..., "checks":
    [...], "sources": [...]}``) split into the column's type (kept in ``fields``), its
    documentation (``column_docs``) and its checks (added to ``quality_checks``)."""
    fields = data.get("fields")
    if not isinstance(fields, dict) or not any(isinstance(v, dict) for v in fields.values()):
        return data
    types: dict[str, Any] = {}
    docs: dict[str, Any] = {}
    checks = list(data.get("quality_checks") or ())
    for column, declared in fields.items():
        if not isinstance(declared, dict):
            types[column] = declared
            continue
        unknown = [k for k in declared if k not in COLUMN_KEYS]
        if unknown:
            raise ModelDefinitionError(
                f"fields: column '{column}' has unknown key '{unknown[0]}'",
                file=where[0],
                line=line,
                model=model,
                hint=f"a column is a type, or a mapping of {', '.join(COLUMN_KEYS)}",
            )
        if declared.get("type") is not None:
            types[column] = declared["type"]
        try:
            doc = ColumnDoc.model_validate({k: v for k, v in declared.items() if k != "type"})
        except ValidationError as exc:
            error = exc.errors()[0]
            loc = ".".join(str(p) for p in error["loc"])
            raise ModelDefinitionError(
                f"fields: column '{column}' {loc}: {error['msg']}",
                file=where[0],
                line=line,
                model=model,
                hint="description is text, checks a list (e.g. [not_null, unique]), sources a "
                "list of MODEL.COLUMN",
            ) from None
        docs[column] = doc
        checks += [_column_check(column, check, where, model, line) for check in doc.checks]
    out = {**data, "fields": types, "column_docs": docs}
    if checks:
        out["quality_checks"] = tuple(checks)
    return out


_MULTI_COLUMN_CHECKS = {"not_null", "unique"}


def _column_check(
    column: str,
    check: Any,
    where: tuple[str | None, int | None],
    model: str | None,
    line: int | None,
) -> Any:
    """A check written under a column (``not_null``, ``{accepted_values: {values: [a, b]}}``)
    as the model-level check it means (``{not_null: id}``)."""
    if isinstance(check, str):
        return {check: column}
    if isinstance(check, dict) and check:
        kind, params = next(iter(check.items()))
        rest = {k: v for k, v in check.items() if k != kind}
        if kind == "type":
            key = "columns" if check["type"] in _MULTI_COLUMN_CHECKS else "column"
            return {**check, key: column}
        if params is None or isinstance(params, dict):
            key = "columns" if kind in _MULTI_COLUMN_CHECKS else "column"
            return {kind: {key: column, **(params or {})}, **rest}
        if kind == "expression":
            return check
    raise ModelDefinitionError(
        f"fields: column '{column}' has a check {check!r} that is neither a check name nor a "
        "mapping",
        file=where[0],
        line=line,
        model=model,
        hint="write checks: [not_null, unique, {accepted_values: {values: [a, b]}}]",
    )


def _nested_keys(option: str) -> list[str]:
    """The keys a mapping-valued option (export, cache, scd2) accepts."""
    info = ModelOptions.model_fields.get(option)
    for candidate in (info.annotation, *getattr(info.annotation, "__args__", ())) if info else ():
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return list(candidate.model_fields)
    return []


def check_strategy_options(
    options: ModelOptions, where: tuple[str | None, int | None], model: str | None
) -> None:
    """Hold the options against what the model's strategy declares it needs and accepts
    (primary_key, delete_mode, its own options, a cursor): the strategy object decides."""
    from interlace.strategy_registry import get_strategy

    if options.strategy is None:
        return  # the config's default strategy applies: checked when the project loads
    problem = get_strategy(options.strategy).check_options(options)
    if problem is not None:
        raise ModelDefinitionError(
            problem.message, file=where[0], line=where[1], model=model, hint=problem.hint
        )


@dataclass(frozen=True)
class ModelSpec:
    """Everything Interlace knows about one model after loading (defaults applied)."""

    name: str
    kind: str  # "python", "sql", or the name of a kind an extension adds (interlace.kinds)
    schema: str  # or ``database.schema`` for a table in an attached database (``database=``)
    connection: str
    materialize: str
    strategy: str
    schema_mode: str
    options: ModelOptions
    file: str | None = None
    line: int | None = None
    fn: Callable[..., Any] | None = None
    sql: str | None = None
    is_async: bool = False
    # parameter name -> model name, for Python models
    inputs: dict[str, str] = field(default_factory=dict)
    wants_context: bool = False
    # every upstream model name (inputs + extra dependencies + SQL references)
    depends_on: tuple[str, ...] = ()
    # what an extension kind's declaration made (a stream object): its kind reads it
    definition: Any = None

    @property
    def is_source(self) -> bool:
        """A node of an extension kind that runs never build: something outside runs fills
        its table (a stream's by ingestion); its readers read it like any model's table."""
        return self.fn is None and self.kind not in BUILTIN_KINDS

    @property
    def tags(self) -> tuple[str, ...]:
        return self.options.tags

    @property
    def description(self) -> str | None:
        return self.options.description

    @property
    def column_docs(self) -> dict[str, ColumnDoc]:
        """Descriptions, checks and declared sources of the columns ``fields`` documents."""
        return self.options.column_docs

    @property
    def location(self) -> str | None:
        if self.file is None:
            return None
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def database(self) -> str | None:
        """The attached database the model's table lives in (``database=``), or None for the
        connection's own. ``schema`` then reads ``database.schema``."""
        return self.schema.split(".", 1)[0] if "." in self.schema else None
