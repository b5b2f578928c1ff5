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
from interlace.decorator import ModelDeclaration, declaration_of
from interlace.errors import (
    GraphError,
    InterlaceError,
    ModelDefinitionError,
    ProjectError,
)
from interlace.functions import ProjectFunctions, load_functions
from interlace.graph import Graph, build_graph, select
from interlace.kinds import Declaration, InstalledKind, installed_kinds
from interlace.quality import Audit
from interlace.seeds import find_seeds
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
    # the node kinds installed extensions add, by name (interlace.kinds)
    kinds: Mapping[str, InstalledKind] = field(default_factory=dict)
    # checks that read models which read their own model: run once both are built
    audits: list[Audit] = field(default_factory=list)

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


@dataclass(frozen=True)
class _KindDeclaration:
    """A node of an extension kind found in a model file."""

    kind: InstalledKind
    declaration: Declaration


def _python_declarations(
    root: Path, models_root: Path, kinds: Mapping[str, InstalledKind]
) -> list[tuple[ModelDeclaration | _KindDeclaration, str]]:
    found: list[tuple[ModelDeclaration | _KindDeclaration, str]] = []
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
            for variable, value in list(vars(module).items()):
                declaration = declaration_of(value)
                if declaration is None:
                    if kinds and id(value) not in seen and not variable.startswith("__"):
                        for declared in _kind_declarations(variable, value, path, root, kinds):
                            seen.add(id(value))
                            found.append((declared, _relative(path, root)))
                    continue
                if id(declaration) in seen:
                    continue
                if declaration.file and Path(declaration.file) != path:
                    continue  # imported from another model file: counted there
                seen.add(id(declaration))
                found.append((declaration, _relative(path, root)))
    finally:
        if added:
            sys.path.remove(root_str)
    return found


def _kind_declarations(
    variable: str, value: Any, path: Path, root: Path, kinds: Mapping[str, InstalledKind]
) -> list[_KindDeclaration]:
    """The extension kinds' declarations a module-level value makes (made in this file)."""
    found = []
    for kind in kinds.values():
        declaration = kind.declaration(variable, value, file=_relative(path, root))
        if declaration is not None and (declaration.file is None or Path(declaration.file) == path):
            found.append(_KindDeclaration(kind, declaration))
    return found


def _kind_spec(item: _KindDeclaration, rel: str, config: ProjectConfig) -> ModelSpec:
    """The spec of an extension kind's node: its options validated like ``@model``'s, the
    project's defaults applied; a source is a table (strategy append) that runs never build."""
    declaration = item.declaration
    name, line = declaration.name, declaration.line
    options = declaration.options
    if not isinstance(options, ModelOptions):
        options = parse_options({**options, "name": name}, where=(rel, line), model=name)
    elif options.name is None:
        options = options.model_copy(update={"name": name})
    if declaration.build is None:
        for option, value in (("materialize", "table"), ("strategy", "append")):
            given = getattr(options, option)
            if given not in (None, value):
                raise ModelDefinitionError(
                    f"{option} '{given}': a {item.kind.name} is a source, a table filled "
                    f"outside runs, so its {option} is '{value}'",
                    file=rel,
                    line=line,
                    model=name,
                    hint=f"remove {option}= from the declaration",
                )
        options = options.model_copy(update={"materialize": "table", "strategy": "append"})
    try:
        resolved = _defaults(options, config)
    except ModelDefinitionError as exc:
        raise ModelDefinitionError(
            exc.message, file=rel, line=line, model=name, hint=exc.hint
        ) from None
    build = declaration.build
    return ModelSpec(
        name=name,
        kind=item.kind.name,
        options=options,
        file=rel,
        line=line,
        fn=build,
        is_async=build is not None
        and (inspect.iscoroutinefunction(build) or inspect.isasyncgenfunction(build)),
        definition=declaration.definition,
        **resolved,
    )


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
    kinds = installed_kinds()
    try:
        return _load(root, env, kinds.by_name)
    except InterlaceError as exc:
        note = kinds.note()
        if note is not None:  # its model kind may be what the project misses
            exc.hint = f"{exc.hint}; {note}" if exc.hint else note
            exc.args = (exc.render(),)
        raise


def _load(root: Path, env: str | None, kinds: Mapping[str, InstalledKind]) -> Project:
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
        for declaration, rel in _python_declarations(root, models_root, kinds):
            if isinstance(declaration, _KindDeclaration):
                add(_kind_spec(declaration, rel, config))
                continue
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
        for kind in kinds.values():
            for suffix in kind.kind.suffixes:
                for path in sorted(models_root.rglob(f"*{suffix}")):
                    rel = _relative(path, root)
                    for found in kind.load_file(path, file=rel):
                        item = _KindDeclaration(kind, found)
                        add(_kind_spec(item, rel, config))
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
    for seed in find_seeds(root, loaded):  # seeds/*.csv: SQL models reading the file
        try:
            resolved = _defaults(seed.options, config)
        except ModelDefinitionError as exc:
            raise ModelDefinitionError(
                exc.message, file=seed.file, model=seed.name, hint=exc.hint
            ) from None
        dialect = dialect_of(config, resolved["connection"])
        queries.add(seed.name, seed.sql, dialect, seed.file, 1)
        sql_facts[seed.name] = seed.facts(dialect)
        add(
            ModelSpec(
                name=seed.name,
                kind="sql",
                options=seed.options,
                file=seed.file,
                sql=seed.sql,
                definition=seed.definition,
                **resolved,
            )
        )

    _check_case_clashes(specs)
    aliases = _aliases(specs)
    checks = _checks(loaded, specs, aliases)
    finished: dict[str, ModelSpec] = {}
    for name, spec in specs.items():
        facts = sql_facts.get(name)
        finished[name] = _resolve_dependencies(spec, specs, aliases, facts.refs if facts else None)
    audits = _with_check_references(finished, checks, aliases)
    deps = {name: list(spec.depends_on) for name, spec in finished.items()}
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
        kinds=kinds,
        audits=audits,
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
        if spec.fn is not None and spec.materialize in ("ephemeral", "none"):
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
    loaded: LoadedConfig, specs: dict[str, ModelSpec], aliases: dict[str, str]
) -> dict[str, list[Any]]:
    """Declared checks (model option, SQL header, config) validated by the check runner."""
    from interlace.errors import ConfigError
    from interlace.plugins import runner_or_error

    config, root = loaded.config, loaded.root

    def where(*path: str) -> tuple[str, int | None]:
        file, line = loaded.locations.where(("quality", "checks", *path))
        return _relative(file or loaded.files[0], root), line

    for name in config.quality.checks:
        if name not in specs and name not in aliases:
            file, line = where(name)
            raise ConfigError(
                f"quality.checks names unknown model '{name}'",
                file=file,
                line=line,
                hint=f"known models: {', '.join(sorted(specs))}",
            )
    out: dict[str, list[Any]] = {}
    for name, spec in specs.items():
        declared = list(spec.options.quality_checks)
        configured: list[Any] = []
        locations: list[tuple[str | None, int | None]] = []
        for key in (name, f"{spec.schema}.{name}"):
            listed = config.quality.checks.get(key, [])
            configured += listed
            locations += [where(key, str(i)) for i in range(len(listed))]
        if declared or configured:
            runner = runner_or_error(name, spec.file, spec.line)
            # each check is validated where it is written: the model, or the config file
            out[name] = runner.validate(name, declared, spec.file, spec.line) if declared else []
            if configured:
                out[name] += runner.validate(
                    name, configured, locations[0][0], locations[0][1], locations=locations
                )
    return out


def _with_check_references(
    specs: dict[str, ModelSpec], checks: dict[str, list[Any]], aliases: dict[str, str]
) -> list[Audit]:
    """Models a check reads (its ``references``, e.g. a relationships check's target) become
    upstreams of the checked model (updated in ``specs``), so the check sees their data of
    the same run. A check that reads a model which reads the checked model (a cycle) becomes
    an audit instead: it runs after both are built, and orders nothing."""
    from dataclasses import replace

    audits: list[Audit] = []
    for name, declared in checks.items():
        for check in declared:
            later: list[str] = []
            for ref in getattr(check, "references", ()):
                target = _lookup(ref, specs, aliases)
                if target is None or target == name or target in specs[name].depends_on:
                    continue
                if _reads(specs, target, name):
                    later.append(target)
                    continue
                spec = specs[name]
                specs[name] = replace(spec, depends_on=(*spec.depends_on, target))
            if later:
                audits.append(Audit(model=name, check=check, after=tuple(later)))
    return audits


def _reads(specs: Mapping[str, ModelSpec], reader: str, model: str) -> bool:
    """Whether ``reader`` reads ``model``, directly or through other models."""
    seen: set[str] = set()
    stack = [reader]
    while stack:
        current = stack.pop()
        for parent in specs[current].depends_on:
            if parent == model:
                return True
            if parent not in seen and parent in specs:
                seen.add(parent)
                stack.append(parent)
    return False


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
    if spec.fn is not None:  # a Python model, or a built node of an extension kind
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
    else:
        for ref in refs or ():
            target = _lookup(ref, specs, aliases)
            if target is not None and target != spec.name:
                upstream.append(target)
        if isinstance(options.dependencies, dict):
            kind = "SQL model" if spec.kind == "sql" else spec.kind
            raise ModelDefinitionError(
                f"dependencies of a {kind} is a list of model names",
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
