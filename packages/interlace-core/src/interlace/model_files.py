"""Reading model declarations from Python files and the project's defaults for them.

Model files are imported as modules of a private package (``_interlace_models``); each
``@model`` function, and each declaration of an installed model kind, becomes a
:class:`~interlace.spec.ModelSpec` with the project's defaults applied.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace.decorator import ModelDeclaration, declaration_of
from interlace.errors import (
    InterlaceError,
    ModelDefinitionError,
    ProjectError,
)
from interlace.spec import (
    ModelOptions,
    ModelSpec,
    check_strategy_options,
    parse_options,
)

if TYPE_CHECKING:
    from interlace.config import ProjectConfig
    from interlace.connection_config import AttachConfig
    from interlace.kinds import Declaration, InstalledKind


def relative_path(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def import_model_module(path: Path, root: Path, models_root: Path) -> Any:
    rel = path.relative_to(models_root).with_suffix("")
    module_name = "_interlace_models." + ".".join(rel.parts)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ProjectError("cannot import model file", file=relative_path(path, root))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except InterlaceError as exc:
        if exc.file:
            exc.file = relative_path(Path(exc.file), root)
            exc.args = (exc.render(),)
        raise
    except SyntaxError as exc:
        raise ProjectError(
            f"Python syntax error: {exc.msg}",
            file=relative_path(path, root),
            line=exc.lineno,
            hint="fix the syntax; the file is imported when the project loads",
        ) from None
    except Exception as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        line = frames[-1].lineno if frames else None
        raise ProjectError(
            f"importing the model file failed: {type(exc).__name__}: {exc}",
            file=relative_path(path, root),
            line=line,
            hint="model files are imported when the project loads; keep imports side-effect free",
        ) from None
    return module


@dataclass(frozen=True)
class KindDeclaration:
    """A node of an extension kind found in a model file."""

    kind: InstalledKind
    declaration: Declaration


def python_declarations(
    root: Path, models_root: Path, kinds: Mapping[str, InstalledKind]
) -> list[tuple[ModelDeclaration | KindDeclaration, str]]:
    found: list[tuple[ModelDeclaration | KindDeclaration, str]] = []
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
            module = import_model_module(path, root, models_root)
            seen: set[int] = set()
            for variable, value in list(vars(module).items()):
                declaration = declaration_of(value)
                if declaration is None:
                    if kinds and id(value) not in seen and not variable.startswith("__"):
                        for declared in kind_declarations(variable, value, path, root, kinds):
                            seen.add(id(value))
                            found.append((declared, relative_path(path, root)))
                    continue
                if id(declaration) in seen:
                    continue
                if declaration.file and Path(declaration.file) != path:
                    continue  # imported from another model file: counted there
                seen.add(id(declaration))
                found.append((declaration, relative_path(path, root)))
    finally:
        if added:
            sys.path.remove(root_str)
    return found


def kind_declarations(
    variable: str, value: Any, path: Path, root: Path, kinds: Mapping[str, InstalledKind]
) -> list[KindDeclaration]:
    """The extension kinds' declarations a module-level value makes (made in this file)."""
    found = []
    for kind in kinds.values():
        declaration = kind.declaration(variable, value, file=relative_path(path, root))
        if declaration is not None and (declaration.file is None or Path(declaration.file) == path):
            found.append(KindDeclaration(kind, declaration))
    return found


def kind_spec(item: KindDeclaration, rel: str, config: ProjectConfig) -> ModelSpec:
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
        resolved = model_defaults(options, config)
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


def model_defaults(options: ModelOptions, config: ProjectConfig) -> dict[str, Any]:
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
        schema = f"{attachment_of(options.database, connection, config, strategy)}.{schema}"
    return {
        "schema": schema,
        "connection": connection,
        "materialize": options.materialize or defaults.default_materialize,
        "strategy": strategy,
        "schema_mode": options.schema_mode or defaults.default_schema_mode,
    }


def attachment_of(database: str, connection: str, config: ProjectConfig, strategy: str) -> str:
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
