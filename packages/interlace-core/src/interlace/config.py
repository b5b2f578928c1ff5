"""Project configuration: one loader for `config.yaml` (or `interlace.yaml`) and its overlays.

Loading order: read the base file, deep-merge ``config.{env}.yaml`` over it (mappings merge,
lists replace), substitute ``${VAR}`` / ``${VAR:-default}`` from the process environment and a
``.env`` file beside the config, replace ``{env}`` with the environment name (except inside
``shared: true`` connections), then validate strictly with pydantic. Every problem becomes a
:class:`~interlace.errors.ConfigError` naming the file, line, key path and the fix.

Why one module over 500 lines: the pydantic models of ``config.yaml`` and the loader that maps
pydantic's error locations back to those models and to the file's lines belong together; the
connection models, the file reading and the key locations already live in their own modules.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from interlace.config_files import KeyLocations, deep_merge, interpolate, read_dotenv, read_yaml
from interlace.connection_config import (
    ConnectionConfig,
    DuckDBConnectionConfig,
    RetryConfig,
    _Strict,
)
from interlace.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

CONFIG_NAMES = ("config.yaml", "interlace.yaml")
DEFAULT_ENV = "dev"
ENV_NAME = re.compile(r"[A-Za-z0-9_-]+")

Materialize = Literal["table", "view", "ephemeral", "none"]


def _registered_strategy(name: str) -> str:
    """A strategy name the registry knows (reported like a Literal's wrong value)."""
    from interlace.strategy_registry import is_registered, strategy_names

    if not is_registered(name):
        names = [repr(n) for n in strategy_names()]
        expected = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
        raise PydanticCustomError(
            "literal_error",
            "Input should be {expected}",
            {"expected": expected or "a registered strategy (none are: reinstall interlace-core)"},
        )
    return name


# the name of a registered strategy (see interlace.strategy_registry)
StrategyName = Annotated[str, AfterValidator(_registered_strategy)]
SchemaMode = Literal["strict", "safe", "flexible", "lenient", "ignore"]


class QualityConfig(_Strict):
    """Checks declared outside the models: ``quality: {checks: {MODEL: [...]}}``."""

    checks: dict[str, list[Any]] = Field(default_factory=dict)


def _column_type(value: str) -> str:
    """A type name ``fields`` accepts (``int64``, ``date``, ``decimal(10, 2)``, ``VARCHAR``)."""
    from interlace.types import TypeSpecError, to_sql_type

    try:
        to_sql_type(value)
    except TypeSpecError as exc:
        raise ValueError(str(exc)) from None
    return value


ColumnType = Annotated[str, AfterValidator(_column_type)]


class SeedsConfig(_Strict):
    """CSV files under ``seeds/``: each becomes a table model named like the file.

    ``schema``, ``connection`` and ``tags`` apply to every seed; per seed, ``schemas`` gives
    another schema, ``column_types`` the types the CSV reader uses for some of its columns
    (``{SEED: {column: type}}``, the type names of ``fields``; other columns are detected) and
    ``descriptions`` a description.
    """

    schema_: str | None = Field(default=None, alias="schema")
    connection: str | None = None
    tags: list[str] = Field(default_factory=list)
    schemas: dict[str, str] = Field(default_factory=dict)
    column_types: dict[str, dict[str, ColumnType]] = Field(default_factory=dict)
    descriptions: dict[str, str] = Field(default_factory=dict)


class ModelDefaults(_Strict):
    default_schema: str = "main"
    default_materialize: Materialize = "table"
    default_strategy: StrategyName = "replace"
    default_schema_mode: SchemaMode = "safe"
    default_connection: str | None = None


class EnvironmentsConfig(_Strict):
    """Which environments exist and how they relate (SPEC §7.3).

    ``names``, when set, lists every environment of the project: any other name is an error
    (a typo in ``--env`` must not build a new database).
    ``production`` environments build everything themselves. Any other environment reads an
    upstream model it has not built (not selected in the run, no relation on the model's
    connection) from the first of ``fallback_connections`` that has it; ``None`` means every
    ``shared: true`` connection, ``[]`` turns fallback off.
    """

    model_config = ConfigDict(use_attribute_docstrings=True)

    names: list[str] | None = None
    """Every environment of the project; `--env` with another name is an error (default: any
    name)."""
    production: list[str] = Field(default_factory=lambda: ["prod", "production"])
    """Environments that build every model themselves and never read from a fallback connection."""
    fallback_connections: list[str] | None = None
    """Where other environments read upstream models they have not built, in order (default: every
    `shared: true` connection; `[]`: no fallback)."""

    @model_validator(mode="before")
    @classmethod
    def _list_names_them(cls, data: Any) -> Any:
        # `environments: [dev, prod]` is short for `environments: {names: [dev, prod]}`
        return {"names": data} if isinstance(data, list) else data

    @model_validator(mode="after")
    def _valid_names(self) -> EnvironmentsConfig:
        for name in self.names or ():
            if not ENV_NAME.fullmatch(name):
                raise ValueError(
                    f"invalid environment name {name!r}: use letters, digits, '-' or '_'"
                )
        return self

    def fallbacks(self, connections: dict[str, ConnectionConfig]) -> list[str]:
        """The fallback connections in search order (before excluding non-database ones)."""
        if self.fallback_connections is not None:
            return list(self.fallback_connections)
        return [name for name, cfg in connections.items() if cfg.shared]


class ExecutorConfig(_Strict):
    max_workers: int = Field(default_factory=lambda: max(2, min(8, os.cpu_count() or 2)), ge=1)


class StateStoreConfig(_Strict):
    """Keys every state store accepts; other store types come from plugins (interlace.plugins)."""

    type: str = "sqlite"
    # how long run events are kept for replay (server-sent events, the UI's history)
    event_retention: str = "7d"
    # how long finished runs (with their model runs, quality results and run requests) are kept
    # in the history; `interlace state prune` forgets older ones
    run_retention: str = "90d"

    @field_validator("event_retention", "run_retention")
    @classmethod
    def _retention(cls, value: str) -> str:
        from interlace.durations import parse_duration

        parse_duration(value)  # ValueError names the accepted forms
        return value

    @property
    def event_retention_seconds(self) -> float:
        from interlace.durations import parse_duration

        return parse_duration(self.event_retention).total_seconds()

    @property
    def run_retention_seconds(self) -> float:
        from interlace.durations import parse_duration

        return parse_duration(self.run_retention).total_seconds()


class StateConfig(StateStoreConfig):
    """The default state store: a SQLite file in the project."""

    type: Literal["sqlite"] = "sqlite"
    path: str = ".interlace/state.db"


class ProjectConfig(_Strict):
    """The validated content of a project's config file(s)."""

    name: str = "interlace_project"
    connections: dict[str, ConnectionConfig] = Field(
        default_factory=lambda: dict[str, ConnectionConfig](
            default=DuckDBConnectionConfig(path="data/dev.duckdb")
        )
    )
    models: ModelDefaults = Field(default_factory=ModelDefaults)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    state: StateStoreConfig = Field(default_factory=StateConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    seeds: SeedsConfig = Field(default_factory=SeedsConfig)
    environments: EnvironmentsConfig = Field(default_factory=EnvironmentsConfig)
    # columns declared outside the models: {MODEL: {column: type or {type, description,
    # checks, sources}}} (interlace.configured_fields)
    fields: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @property
    def default_connection(self) -> str:
        if self.models.default_connection:
            return self.models.default_connection
        if "default" in self.connections:
            return "default"
        return next(iter(self.connections))


@dataclass
class LoadedConfig:
    """A validated config plus where it came from (for messages and `interlace config`)."""

    config: ProjectConfig
    env: str
    root: Path
    files: list[Path]
    raw: dict[str, Any] = field(default_factory=dict)
    # sections that installed distributions define (``service``), validated by their models
    sections: dict[str, BaseModel] = field(default_factory=dict)
    # the file and line of every key, for errors found after validation (checks, seeds)
    locations: KeyLocations = field(default_factory=KeyLocations)


# --------------------------------------------------------------------------- file reading


def _field_names(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The allowed keys at ``loc`` (for 'did you mean')."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return []
            current = info.annotation
        else:  # a dict key (a connection name): step into the dict's value type
            args = getattr(current, "__args__", ())
            current = args[-1] if args else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _describe(error: Any, model: type[BaseModel]) -> tuple[str, str | None]:
    kind = error["type"]
    loc = tuple(error["loc"])
    key = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        allowed = _field_names(model, loc[:-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else None
        if allowed:
            hint = (hint + " " if hint else "") + f"allowed keys: {', '.join(allowed)}"
        return f"unknown key '{key}'", hint
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"invalid value {error.get('input')!r}", f"use one of {expected}"
    if kind == "missing":
        return f"missing required key '{key}'", f"add '{key}:' here"
    got = error.get("input")
    if isinstance(got, (dict, list)):  # a whole section (it may hold passwords): not repeated
        return error["msg"].lower().removeprefix("value error, "), None
    return f"{error['msg'].lower()} (got {got!r})", None


def _raise_validation(
    exc: ValidationError,
    source: KeyLocations,
    fallback: Path,
    model: type[BaseModel] | None = None,
    prefix: tuple[str, ...] = (),
) -> None:
    found = []
    for error in exc.errors():
        loc = (*prefix, *(str(p) for p in error["loc"]))
        file, line = source.where(loc)
        message, hint = _describe(error, model or ProjectConfig)
        text = f"{'.'.join(loc) or '<root>'}: {message}"
        if hint:
            text += f" ({hint})"
        found.append((file or fallback, line, text))
    if len(found) == 1:  # the error's own location says where; do not repeat it
        file, line, text = found[0]
        raise ConfigError(
            f"invalid configuration: {text}",
            file=str(file),
            line=line,
            hint="fix the key above; `interlace config` prints the merged result",
        ) from None
    listed = "\n  ".join(
        f"{file.name}:{line}: {text}" if line else f"{file.name}: {text}"
        for file, line, text in found
    )
    raise ConfigError(
        f"invalid configuration:\n  {listed}",
        file=str(found[0][0]),
        hint="fix the keys above; `interlace config` prints the merged result",
    ) from None


def _validate_connections(raw: Any, source: KeyLocations, base: Path, env_name: str) -> Any:
    """Validate each connection with its type's own model (types may come from plugins)."""
    from interlace.plugins import connection_type

    if raw is None:
        return {"default": DuckDBConnectionConfig(path=f"data/{env_name}.duckdb")}
    if not isinstance(raw, dict):
        return raw  # ProjectConfig reports the wrong type
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if not isinstance(value, dict):
            out[name] = value
            continue
        type_name = str(value.get("type", "duckdb"))
        try:
            kind = connection_type(type_name)
        except ConfigError as exc:
            file, line = source.where(("connections", str(name), "type"))
            raise ConfigError(
                f"connections.{name}.type: {exc.message}",
                file=str(file or base),
                line=line,
                hint=exc.hint,
            ) from None
        try:
            out[name] = kind.config_model.model_validate(value)
        except ValidationError as exc:
            _raise_validation(exc, source, base, kind.config_model, ("connections", str(name)))
    return out


def _validate_state(raw: Any, source: KeyLocations, base: Path) -> Any:
    """Validate ``state:`` with its type's model (``sqlite`` built in, others from plugins)."""
    from interlace.plugins import state_store_type

    if not isinstance(raw, dict):
        return raw  # ProjectConfig reports the wrong type
    model: type[BaseModel] = StateConfig
    if str(raw.get("type", "sqlite")) != "sqlite":
        try:
            model = state_store_type(str(raw["type"])).config_model
        except ConfigError as exc:
            file, line = source.where(("state", "type"))
            raise ConfigError(
                f"state.type: {exc.message}", file=str(file or base), line=line, hint=exc.hint
            ) from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        _raise_validation(exc, source, base, model, ("state",))
        raise  # unreachable


# --------------------------------------------------------------------------- public API


def find_config_file(root: Path) -> Path:
    """The project's base config file (``config.yaml`` or ``interlace.yaml``)."""
    found = [root / name for name in CONFIG_NAMES if (root / name).is_file()]
    if not found:
        raise ConfigError(
            f"no config.yaml or interlace.yaml in {root}",
            hint="run `interlace init NAME` to create a project, or pass --project PATH",
        )
    if len(found) > 1:
        raise ConfigError(
            f"both {found[0].name} and {found[1].name} exist in {root}",
            hint="keep one of them",
        )
    return found[0]


def list_environments(root: Path) -> list[str]:
    """Environments with an overlay file, plus the default one."""
    base = find_config_file(root)
    stem = base.stem
    envs = {DEFAULT_ENV}
    for file in root.glob(f"{stem}.*.yaml"):
        envs.add(file.name[len(stem) + 1 : -len(".yaml")])
    return sorted(envs)


def resolve_env(env: str | None) -> str:
    """``--env``, else ``INTERLACE_ENV``, else ``dev``."""
    return env or os.environ.get("INTERLACE_ENV") or DEFAULT_ENV


def load_config(root: Path, env: str | None = None) -> LoadedConfig:
    """Read, merge, interpolate and validate the config of the project at ``root``."""
    env_name = resolve_env(env)
    if not ENV_NAME.fullmatch(env_name):
        raise ConfigError(
            f"invalid environment name {env_name!r}",
            hint="use letters, digits, '-' or '_' (for example dev, staging, prod)",
        )
    base = find_config_file(root)
    source = KeyLocations()
    data = read_yaml(base, source)
    files = [base]
    overlay = root / f"{base.stem}.{env_name}.yaml"
    if overlay.is_file():
        data = deep_merge(data, read_yaml(overlay, source))
        files.append(overlay)
    variables = {**read_dotenv(root / ".env"), **os.environ}
    data = interpolate(data, (), env_name, variables, source, replace_env=True)
    data = {
        **data,
        "connections": _validate_connections(data.get("connections"), source, base, env_name),
        **({"state": _validate_state(data["state"], source, base)} if "state" in data else {}),
    }
    sections, data = _extension_sections(data, source, base)
    try:
        config = ProjectConfig.model_validate(data)
    except ValidationError as exc:
        _raise_validation(exc, source, base)
        raise  # unreachable
    if not config.connections:
        raise ConfigError(
            "no connections are configured",
            file=str(base),
            hint="add `connections: {default: {type: duckdb, path: data/{env}.duckdb}}`",
        )
    for i, name in enumerate(config.environments.fallback_connections or ()):
        if name not in config.connections:
            file, line = source.where(("environments", "fallback_connections", str(i)))
            raise ConfigError(
                f"environments.fallback_connections names '{name}', which is not a configured "
                "connection",
                file=str(file or base),
                line=line,
                hint=f"use one of: {', '.join(config.connections)}",
            )
    declared = config.environments.names
    if declared is not None and env_name not in declared:
        file, line = source.where(("environments", "names"))
        close = difflib.get_close_matches(env_name, declared, n=1)
        raise ConfigError(
            f"unknown environment '{env_name}': `environments` in the config lists only "
            f"{', '.join(declared) or 'none'}",
            file=str(file or base),
            line=line,
            hint=(f"did you mean '{close[0]}'? " if close else "")
            + f"choose one with --env NAME (or INTERLACE_ENV), or add '{env_name}' to "
            "environments",
        )
    default = config.models.default_connection
    if default and default not in config.connections:
        file, line = source.where(("models", "default_connection"))
        raise ConfigError(
            f"models.default_connection names '{default}', which is not a configured connection",
            file=str(file or base),
            line=line,
            hint=f"use one of: {', '.join(config.connections)}",
        )
    return LoadedConfig(
        config=config,
        env=env_name,
        root=root,
        files=files,
        raw=data,
        sections=sections,
        locations=source,
    )


def _extension_sections(
    data: dict[str, Any], source: KeyLocations, base: Path
) -> tuple[dict[str, BaseModel], dict[str, Any]]:
    """Top-level sections that installed distributions define (``service:`` of
    interlace-service), each validated by its own model with the file and line of a mistake;
    returns them and the rest of the config. Extensions are looked up only when the config has
    a key core does not know, so plain projects never pay for the lookup."""
    known = {info.alias or name for name, info in ProjectConfig.model_fields.items()}
    unknown = [key for key in data if key not in known]
    if not unknown:
        return {}, data
    from interlace.hooks import config_sections

    models = config_sections()
    sections: dict[str, BaseModel] = {}
    for key in unknown:
        model = models.get(key)
        if model is None:
            continue  # ProjectConfig reports it as an unknown key, with "did you mean"
        try:
            sections[key] = model.model_validate(data[key] if data[key] is not None else {})
        except ValidationError as exc:
            _raise_validation(exc, source, base, model=model, prefix=(key,))
    return sections, {k: v for k, v in data.items() if k not in sections}


_SECRET = re.compile(r"(password|passwd|secret|token|api_key|apikey|credential|private_key)", re.I)


def masked_config(config: ProjectConfig) -> dict[str, Any]:
    """The config as JSON data with secrets masked: what ``interlace config`` prints and
    ``GET /api/v1/project`` returns."""
    # serialize_as_any: connections are typed per plugin (subclasses of ConnectionConfig)
    data = config.model_dump(mode="json", by_alias=True, serialize_as_any=True)
    masked: dict[str, Any] = mask_secrets(data)
    return masked


def mask_secrets(value: Any, key: str = "") -> Any:
    """A copy of ``value`` with secret-looking keys and URL passwords masked."""
    if isinstance(value, dict):
        return {k: mask_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v, key) for v in value]
    if isinstance(value, str):
        if _SECRET.search(key) and value:
            return "****"
        return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1****@", value)
    return value
