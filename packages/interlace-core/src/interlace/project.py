"""Loading a project folder into a typed :class:`Project`: config, models and their graph."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace.config import LoadedConfig, ProjectConfig, load_config
from interlace.decorator import declaration_of
from interlace.errors import (
    GraphError,
    InterlaceError,
    ModelDefinitionError,
    ProjectError,
)
from interlace.functions import ProjectFunctions, load_functions
from interlace.graph import Graph, build_graph, select
from interlace.spec import (
    RESERVED_PARAMETERS,
    ModelOptions,
    ModelSpec,
    check_strategy_options,
    parse_options,
)
from interlace.sql_cache import LazyQueries, ParseCache, ParsedSQL
from interlace.sql_cache import describe as describe_sql
from interlace.sql_models import parse_query, read_sql_file

if TYPE_CHECKING:
    from sqlglot import exp

    from interlace.connection_config import AttachConfig

MODELS_DIR = "models"
STATE_DIR = ".interlace"  # state store, caches


@dataclass
class Project:
    """A loaded project: validated config, model specs by name, and their dependency graph."""

    root: Path
    env: str
    loaded: LoadedConfig
    models: dict[str, ModelSpec]
    graph: Graph
    # parsed SQL per SQL model (in its connection's dialect)
    queries: Mapping[str, exp.Expr] = field(default_factory=dict)
    # statement kind, table references and canonical SQL of each SQL model (cached facts)
    sql_facts: dict[str, ParsedSQL] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    # validated quality checks per model (empty when a model declares none)
    checks: dict[str, list[Any]] = field(default_factory=dict)
    # UDFs and macros of functions/ (registered on every DuckDB connection)
    functions: ProjectFunctions = field(default_factory=ProjectFunctions)

    @property
    def config(self) -> ProjectConfig:
        return self.loaded.config

    @property
    def name(self) -> str:
        return self.config.name

    def select(
        self, selectors: list[str] | None = None, exclude: list[str] | None = None
    ) -> list[str]:
        """Model names matching the selection, in topological order."""
        return select(
            self.graph,
            selectors,
            exclude,
            tags={name: spec.tags for name, spec in self.models.items()},
            aliases=self.aliases,
        )

    def lookup(self, ref: str) -> str | None:
        """The model a (possibly qualified, any-case) reference names, or None."""
        return _lookup(ref, self.models, self.aliases)

    def resolve(self, name: str) -> ModelSpec:
        """A model by name or ``schema.name``."""
        key = self.aliases.get(name, name)
        if key not in self.models:
            from interlace.graph import select as _select

            _select(self.graph, [name], aliases=self.aliases)  # raises a SelectionError with hints
        return self.models[key]


def dialect_of(config: ProjectConfig, connection: str) -> str:
    """The SQL dialect a connection speaks (only DuckDB in core)."""
    from interlace.plugins import connection_type

    cfg = config.connections[connection]
    dialect = connection_type(cfg.type).dialect_of(cfg)
    if dialect is None:
        raise ModelDefinitionError(
            f"connection '{connection}' is a storage connection; models cannot run on it",
            hint="run the model on a database connection and read files from storage instead",
        )
    return dialect


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _import_module(path: Path, root: Path, models_root: Path) -> Any:
    rel = path.relative_to(models_root).with_suffix("")
    module_name = "_interlace_models." + ".".join(rel.parts)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ProjectError("cannot import model file", file=_relative(path, root))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except InterlaceError as exc:
        if exc.file:
            exc.file = _relative(Path(exc.file), root)
            exc.args = (exc.render(),)
        raise
    except SyntaxError as exc:
        raise ProjectError(
            f"Python syntax error: {exc.msg}",
            file=_relative(path, root),
            line=exc.lineno,
            hint="fix the syntax; the file is imported when the project loads",
        ) from None
    except Exception as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        line = frames[-1].lineno if frames else None
        raise ProjectError(
            f"importing the model file failed: {type(exc).__name__}: {exc}",
            file=_relative(path, root),
            line=line,
            hint="model files are imported when the project loads; keep imports side-effect free",
        ) from None
    return module


def _python_declarations(root: Path, models_root: Path) -> list[tuple[Any, str]]:
    found = []
    sys.modules.setdefault("_interlace_models", type(sys)("_interlace_models"))
    root_str = str(root)
    added = root_str not in sys.path
    if added:
        sys.path.insert(0, root_str)
    try:
        for path in sorted(models_root.rglob("*.py")):
            if any(
                part.startswith((".", "__pycache__"))
                for part in path.relative_to(models_root).parts
            ):
                continue
            module = _import_module(path, root, models_root)
            seen: set[int] = set()
            for value in vars(module).values():
                declaration = declaration_of(value)
                if declaration is None or id(declaration) in seen:
                    continue
                if declaration.file and Path(declaration.file) != path:
                    continue  # imported from another model file: counted there
                seen.add(id(declaration))
                found.append((declaration, _relative(path, root)))
    finally:
        if added:
            sys.path.remove(root_str)
    return found


def _defaults(options: ModelOptions, config: ProjectConfig) -> dict[str, Any]:
    defaults = config.models
    connection = options.connection or config.default_connection
    if connection not in config.connections:
        raise ModelDefinitionError(
            f"uses connection '{connection}', which is not configured",
            hint=f"configured connections: {', '.join(config.connections)}",
        )
    strategy = options.strategy or defaults.default_strategy
    if options.strategy is None:  # primary_key, delete_mode, cursor against the default
        check_strategy_options(
            options.model_copy(update={"strategy": strategy}), (None, None), model=None
        )
    schema = options.schema_ or defaults.default_schema
    if options.database is not None:
        schema = f"{_attachment(options.database, connection, config, strategy)}.{schema}"
    return {
        "schema": schema,
        "connection": connection,
        "materialize": options.materialize or defaults.default_materialize,
        "strategy": strategy,
        "schema_mode": options.schema_mode or defaults.default_schema_mode,
    }


def _attachment(database: str, connection: str, config: ProjectConfig, strategy: str) -> str:
    """The attachment ``database=`` names on the model's connection, as configured."""
    from interlace.engines.duckdb_attach import WRITE_LIMITS, write_capabilities

    conn = config.connections[connection]
    items: list[AttachConfig] = getattr(conn, "attach", [])
    attached = {item.name.lower(): item for item in items}
    item = attached.get(database.lower())
    if item is None:
        if conn.type != "duckdb":
            raise ModelDefinitionError(
                f"database='{database}': connection '{connection}' is of type '{conn.type}', "
                "which attaches no databases",
                hint="database= names an attachment (attach:) of a DuckDB connection; "
                "to write into that server, put the model on a connection of its own",
            )
        known = ", ".join(sorted(a.name for a in items)) or "none"
        raise ModelDefinitionError(
            f"database='{database}' is not attached by connection '{connection}' "
            f"(attachments: {known})",
            hint=f"add it under connections.{connection}.attach in interlace.yaml, "
            "or drop database= to write into the connection's own database",
        )
    if item.read_only or conn.access == "read":
        raise ModelDefinitionError(
            f"database='{database}': attachment '{item.name}' of connection '{connection}' "
            "is read-only",
            hint="remove read_only: true from the attachment (and access: read from the "
            "connection) to materialize models into it",
        )
    limits = WRITE_LIMITS.get(item.type)
    if limits is not None:
        from interlace.engines.duckdb import DuckDBEngine
        from interlace.strategies import get_strategy, registered_strategies

        there = write_capabilities(item.type, DuckDBEngine.capabilities)
        if get_strategy(strategy).missing_capabilities(there):
            usable = [
                s.name
                for s in registered_strategies()
                if s.writes and not s.missing_capabilities(there)
            ]
            raise ModelDefinitionError(
                f"strategy '{strategy}' cannot write into {limits.label} attachment "
                f"'{item.name}': {limits.reason}",
                hint=f"use strategy {' or '.join(repr(u) for u in usable)} there, "
                f"or {limits.instead}",
            )
    return item.name


def load_project(path: str | Path = ".", env: str | None = None) -> Project:
    """Load the project at ``path`` for environment ``env`` (``--env`` / ``INTERLACE_ENV`` / dev).

    Raises an :class:`~interlace.errors.InterlaceError` subclass naming the file, line and fix
    for every problem (bad config, bad model, cycle, duplicate names).
    """
    root = Path(path).resolve()
    if not root.is_dir():
        raise ProjectError(f"project folder {root} does not exist", hint="pass --project PATH")
    loaded = load_config(root, env)
    config = loaded.config
    functions = load_functions(root)
    models_root = root / MODELS_DIR
    specs: dict[str, ModelSpec] = {}
    queries = LazyQueries()
    sql_facts: dict[str, ParsedSQL] = {}
    parse_cache = ParseCache(root / STATE_DIR / "parse-cache.json")

    def add(spec: ModelSpec) -> None:
        if spec.name in specs:
            other = specs[spec.name]
            raise ProjectError(
                f"two models are named '{spec.name}': {other.location} and {spec.location}",
                file=spec.file,
                line=spec.line,
                hint="rename one of them (or set name=...)",
            )
        specs[spec.name] = spec

    if models_root.is_dir():
        for declaration, rel in _python_declarations(root, models_root):
            options: ModelOptions = declaration.options
            name = options.name or declaration.fn.__name__
            try:
                resolved = _defaults(options, config)
            except ModelDefinitionError as exc:
                raise ModelDefinitionError(
                    exc.message, file=rel, line=declaration.line, model=name, hint=exc.hint
                ) from None
            add(
                ModelSpec(
                    name=name,
                    kind="python",
                    options=options,
                    file=rel,
                    line=declaration.line,
                    fn=declaration.fn,
                    is_async=inspect.iscoroutinefunction(declaration.fn)
                    or inspect.isasyncgenfunction(declaration.fn),
                    **resolved,
                )
            )
        for path in sorted(models_root.rglob("*.sql")):
            rel = _relative(path, root)
            for block in read_sql_file(path, rel):
                name = block.options.get("name") or path.stem
                where = (rel, block.header_line)
                options = parse_options(
                    {**block.options, "name": name},
                    where=where,
                    model=name,
                    lines=block.option_lines,
                )
                try:
                    resolved = _defaults(options, config)
                except ModelDefinitionError as exc:
                    raise ModelDefinitionError(
                        exc.message, file=rel, line=block.header_line, model=name, hint=exc.hint
                    ) from None
                dialect = dialect_of(config, resolved["connection"])
                facts = parse_cache.lookup(dialect, block.sql)
                query = None
                if facts is None:
                    query = parse_query(
                        block.sql,
                        file=rel,
                        line_offset=block.sql_line,
                        model=str(name),
                        dialect=dialect,
                    )
                    facts = describe_sql(query, dialect)
                    parse_cache.store(dialect, block.sql, facts)
                if resolved["materialize"] != "none" and not facts.is_query:
                    raise ModelDefinitionError(
                        f"the SQL is a {facts.kind.upper()} statement, not a query",
                        file=rel,
                        line=block.sql_line,
                        model=name,
                        hint="a table/view/ephemeral model is one SELECT; use `-- @materialize: "
                        "none` for a statement run for its side effect",
                    )
                queries.add(str(name), block.sql, dialect, rel, block.sql_line, query)
                sql_facts[str(name)] = facts
                add(
                    ModelSpec(
                        name=str(name),
                        kind="sql",
                        options=options,
                        file=rel,
                        line=block.header_line,
                        sql=block.sql,
                        **resolved,
                    )
                )

    _check_case_clashes(specs)
    aliases = _aliases(specs)
    checks = _checks(config, specs, aliases, loaded.files[0])
    finished: dict[str, ModelSpec] = {}
    deps: dict[str, list[str]] = {}
    for name, spec in specs.items():
        facts = sql_facts.get(name)
        spec = _resolve_dependencies(spec, specs, aliases, facts.refs if facts else None)
        spec = _with_check_references(spec, checks.get(name, []), specs, aliases)
        finished[name] = spec
        deps[name] = list(spec.depends_on)
    try:
        graph = build_graph(deps)
    except GraphError as exc:
        if exc.model and exc.model in finished:
            spec = finished[exc.model]
            exc.file, exc.line = spec.file, spec.line
            exc.args = (exc.render(),)
        raise
    _check_views(finished)
    parse_cache.save()
    return Project(
        root=root,
        env=loaded.env,
        loaded=loaded,
        models=finished,
        graph=graph,
        queries=queries,
        sql_facts=sql_facts,
        aliases=aliases,
        checks=checks,
        functions=functions,
    )


def _check_case_clashes(specs: Mapping[str, ModelSpec]) -> None:
    """Two models whose names differ only by case would be one table: SQL folds the case of
    names (and our references do too), so the second publish would fail or overwrite."""
    seen: dict[tuple[str, str | None, str, str], ModelSpec] = {}
    for spec in specs.values():
        key = (spec.connection, spec.database, spec.schema.lower(), spec.name.lower())
        other = seen.setdefault(key, spec)
        if other is spec:
            continue
        raise ProjectError(
            f"models '{other.name}' ({other.location}) and '{spec.name}' ({spec.location}) "
            f"differ only by case, so both would be the table {spec.schema}.{spec.name.lower()} "
            f"on connection '{spec.connection}'",
            file=spec.file,
            line=spec.line,
            hint="rename one of them (the function, `name=...`, or `-- @name:` in a SQL "
            "header), or give one another schema",
        )


def _check_views(specs: dict[str, ModelSpec]) -> None:
    """A view must not read a Python ephemeral/none model: its data is gone after the run."""

    def in_run_source(name: str) -> str | None:
        spec = specs[name]
        if spec.kind == "python" and spec.materialize in ("ephemeral", "none"):
            return name
        if spec.kind == "sql" and spec.materialize == "ephemeral":  # inlined: look through it
            for parent in spec.depends_on:
                found = in_run_source(parent)
                if found is not None:
                    return found
        return None

    for spec in specs.values():
        if spec.materialize != "view":
            continue
        for parent in spec.depends_on:
            found = in_run_source(parent)
            if found is not None:
                raise ModelDefinitionError(
                    f"the view reads '{found}', a Python {specs[found].materialize} model whose "
                    "data exists only during a run, so the view would break when the run ends",
                    file=spec.file,
                    line=spec.line,
                    model=spec.name,
                    hint=f"materialize '{spec.name}' as a table, or make '{found}' a table",
                )


def _checks(
    config: ProjectConfig, specs: dict[str, ModelSpec], aliases: dict[str, str], config_file: Path
) -> dict[str, list[Any]]:
    """Declared checks (model option, SQL header, config) validated by the check runner."""
    from interlace.errors import ConfigError
    from interlace.plugins import runner_or_error

    for name in config.quality.checks:
        if name not in specs and name not in aliases:
            raise ConfigError(
                f"quality.checks names unknown model '{name}'",
                file=str(config_file),
                hint=f"known models: {', '.join(sorted(specs))}",
            )
    out: dict[str, list[Any]] = {}
    for name, spec in specs.items():
        declared = list(spec.options.quality_checks)
        configured: list[Any] = []
        for key in (name, f"{spec.schema}.{name}"):
            configured += config.quality.checks.get(key, [])
        if declared or configured:
            runner = runner_or_error(name, spec.file, spec.line)
            # each check is validated where it is written: the model, or the config file
            out[name] = runner.validate(name, declared, spec.file, spec.line) if declared else []
            if configured:
                out[name] += runner.validate(name, configured, config_file.name, None)
    return out


def _with_check_references(
    spec: ModelSpec, checks: list[Any], specs: dict[str, ModelSpec], aliases: dict[str, str]
) -> ModelSpec:
    """Models a check reads (its ``references``, e.g. a relationships check's target) become
    upstreams, so the check sees their data of the same run."""
    refs = [
        target
        for check in checks
        for ref in getattr(check, "references", ())
        if (target := _lookup(ref, specs, aliases)) is not None and target != spec.name
    ]
    if not refs:
        return spec
    from dataclasses import replace

    return replace(spec, depends_on=tuple(dict.fromkeys([*spec.depends_on, *refs])))


def _aliases(specs: Mapping[str, ModelSpec]) -> dict[str, str]:
    """``schema.name`` spellings, and lower-case forms for case-insensitive SQL references."""
    aliases = {f"{spec.schema}.{spec.name}": spec.name for spec in specs.values()}
    for spec in specs.values():
        for key in (spec.name.lower(), f"{spec.schema}.{spec.name}".lower()):
            if key not in specs:
                aliases.setdefault(key, spec.name)
    return aliases


def _lookup(ref: str, specs: Mapping[str, ModelSpec], aliases: Mapping[str, str]) -> str | None:
    """A model by name or ``schema.name``; SQL identifiers are case-insensitive, so are we."""
    if ref in specs:
        return ref
    return aliases.get(ref) or aliases.get(ref.lower())


def _resolve_dependencies(
    spec: ModelSpec,
    specs: dict[str, ModelSpec],
    aliases: dict[str, str],
    refs: tuple[str, ...] | None,
) -> ModelSpec:
    options = spec.options
    explicit_map = options.dependencies if isinstance(options.dependencies, dict) else {}
    explicit_list = () if isinstance(options.dependencies, dict) else options.dependencies
    upstream: list[str] = []

    def need(ref: str, what: str) -> str:
        target = _lookup(ref, specs, aliases)
        if target is None:
            import difflib

            close = difflib.get_close_matches(ref, list(specs) + list(aliases), n=1)
            raise GraphError(
                f"{what} names unknown model '{ref}'",
                file=spec.file,
                line=spec.line,
                model=spec.name,
                hint=(f"did you mean '{close[0]}'? " if close else "")
                + "`interlace info` lists models",
            )
        return target

    inputs: dict[str, str] = {}
    wants_context = False
    if spec.kind == "python" and spec.fn is not None:
        for param in inspect.signature(spec.fn).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if param.name == "context":
                wants_context = True
                continue
            if param.name in RESERVED_PARAMETERS:
                continue
            if param.name in explicit_map:
                inputs[param.name] = need(explicit_map[param.name], f"dependencies['{param.name}']")
            elif _lookup(param.name, specs, aliases):
                inputs[param.name] = str(_lookup(param.name, specs, aliases))
            elif param.default is param.empty:
                raise GraphError(
                    f"parameter '{param.name}' is not a model",
                    file=spec.file,
                    line=spec.line,
                    model=spec.name,
                    hint="name a parameter like an upstream model, map it with "
                    "dependencies={'param': 'model'}, give it a default, or remove it",
                )
        for param_name in explicit_map:
            if param_name not in inputs:
                raise GraphError(
                    f"dependencies maps '{param_name}', which is not a parameter of the function",
                    file=spec.file,
                    line=spec.line,
                    model=spec.name,
                    hint="use a list for dependencies that are not parameters",
                )
        upstream.extend(inputs.values())
    elif refs is not None:
        for ref in refs:
            target = _lookup(ref, specs, aliases)
            if target is not None and target != spec.name:
                upstream.append(target)
        if isinstance(options.dependencies, dict):
            raise ModelDefinitionError(
                "dependencies of a SQL model is a list of model names",
                file=spec.file,
                line=spec.line,
                model=spec.name,
            )
    for ref in explicit_list:
        upstream.append(need(ref, "dependencies"))
    from dataclasses import replace

    return replace(
        spec, inputs=inputs, wants_context=wants_context, depends_on=tuple(dict.fromkeys(upstream))
    )


__all__ = ["Project", "dialect_of", "load_project", "select"]
