"""Loading a project folder into a typed :class:`Project`: config, models and their graph."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace.config import LoadedConfig, ProjectConfig, load_config
from interlace.configured_fields import with_configured_fields
from interlace.errors import (
    GraphError,
    InterlaceError,
    ModelDefinitionError,
    ProjectError,
)
from interlace.functions import ProjectFunctions, load_functions
from interlace.graph import Graph, build_graph, select
from interlace.kinds import InstalledKind, installed_kinds
from interlace.model_files import (
    KindDeclaration,
    kind_spec,
    model_defaults,
    python_declarations,
    relative_path,
)
from interlace.project_checks import (
    aliases_of,
    check_case_clashes,
    check_views,
    collect_checks,
    lookup,
    resolve_dependencies,
    with_check_references,
)
from interlace.seeds import find_seeds
from interlace.spec import (
    ModelOptions,
    ModelSpec,
    parse_options,
)
from interlace.sql_cache import LazyQueries, ParseCache, ParsedSQL
from interlace.sql_cache import describe as describe_sql
from interlace.sql_models import parse_query, read_sql_file

if TYPE_CHECKING:
    from sqlglot import exp

    from interlace.quality import Audit


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
        return lookup(ref, self.models, self.aliases)

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
        for declaration, rel in python_declarations(root, models_root, kinds):
            if isinstance(declaration, KindDeclaration):
                add(kind_spec(declaration, rel, config))
                continue
            options: ModelOptions = declaration.options
            name = options.name or declaration.fn.__name__
            try:
                resolved = model_defaults(options, config)
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
                    rel = relative_path(path, root)
                    for found in kind.load_file(path, file=rel):
                        item = KindDeclaration(kind, found)
                        add(kind_spec(item, rel, config))
        for path in sorted(models_root.rglob("*.sql")):
            rel = relative_path(path, root)
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
                    resolved = model_defaults(options, config)
                except ModelDefinitionError as exc:
                    raise ModelDefinitionError(
                        exc.message, file=rel, line=block.header_line, model=name, hint=exc.hint
                    ) from None
                dialect = dialect_of(config, resolved["connection"])
                facts = parse_cache.lookup(dialect, block.sql)
                if facts is None:
                    query = parse_query(
                        block.sql,
                        file=rel,
                        line_offset=block.sql_line,
                        model=str(name),
                        dialect=dialect,
                    )
                    # the AST is consumed: a model that runs parses its SQL again, which costs
                    # less than copying the tree (and models that do not run never do)
                    facts = describe_sql(query, dialect, consume=True)
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
                queries.add(str(name), block.sql, dialect, rel, block.sql_line)
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
    config_file = relative_path(loaded.files[0], root) if loaded.files else "config.yaml"
    for kind in kinds.values():  # nodes declared in config (`streams:`)
        for found in kind.config_declarations(loaded.sections, file=config_file):
            add(kind_spec(KindDeclaration(kind, found), found.file or config_file, config))
    for seed in find_seeds(root, loaded):  # seeds/*.csv: SQL models reading the file
        try:
            resolved = model_defaults(seed.options, config)
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

    check_case_clashes(specs)
    aliases = aliases_of(specs)
    specs = with_configured_fields(loaded, specs, aliases)  # config `fields:` (column docs)
    checks = collect_checks(loaded, specs, aliases)
    finished: dict[str, ModelSpec] = {}
    for name, spec in specs.items():
        facts = sql_facts.get(name)
        finished[name] = resolve_dependencies(spec, specs, aliases, facts.refs if facts else None)
    audits = with_check_references(finished, checks, aliases)
    deps = {name: list(spec.depends_on) for name, spec in finished.items()}
    try:
        graph = build_graph(deps)
    except GraphError as exc:
        if exc.model and exc.model in finished:
            spec = finished[exc.model]
            exc.file, exc.line = spec.file, spec.line
            exc.args = (exc.render(),)
        raise
    check_views(finished)
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


__all__ = ["Project", "dialect_of", "load_project", "select"]
