"""The model under test of :func:`~interlace.testing.runner.test_model`: where it comes from
(a project, a function, a SQL file or text), its options with overrides, and its mocked
dependencies checked against what its query reads.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace.errors import InterlaceError

if TYPE_CHECKING:
    from interlace.project import Project
    from interlace.spec import ModelOptions, ModelSpec

TEST_CONNECTION = "default"
TEST_ENV = "test"
# schemas a test query may read without a mocked dependency
_SYSTEM_SCHEMAS = {"information_schema", "pg_catalog"}


class ModelTestError(InterlaceError):
    """A model test is set up wrongly (a missing dependency, an unreadable model)."""


@dataclass(frozen=True)
class MockDependency:
    """Data standing in for an upstream model; see :func:`mock_dependency`."""

    data: Any
    fields: Mapping[str, Any] | None = None
    schema: str | None = None


def mock_dependency(
    data: Any, *, fields: Mapping[str, Any] | None = None, schema: str | None = None
) -> MockDependency:
    """Data for an upstream model of a tested model.

    ``data`` is anything a Python model may return: a list of dict rows, a dict of columns, a
    pyarrow Table, a pandas or polars DataFrame, an iterator of rows or batches. ``fields``
    declares column types (and gives an empty mock its columns); ``schema`` puts the table in
    another schema than the model name implies (``"raw"`` for ``from raw.orders``).

    Example::

        orders = mock_dependency([], fields={"id": "int64", "amount": "float64"})
        result = test_model_sync(revenue, deps={"orders": orders})
        assert result.row_count == 0
    """
    return MockDependency(data, dict(fields) if fields is not None else None, schema)


# ---------------------------------------------------------------------------- building the model


@dataclass
class Target:
    """The model under test, before its dependencies are known."""

    name: str
    kind: str  # "python", "sql" or an extension kind's name (ModelSpec.kind)
    options: ModelOptions
    schema: str
    materialize: str
    strategy: str
    schema_mode: str
    file: str | None = None
    line: int | None = None
    fn: Callable[..., Any] | None = None
    sql: str | None = None
    sql_line: int = 1
    # the project the model came from (for the schemas of dependencies named by model)
    source: Project | None = None


def load_source_project(project: str | Path | Project | None) -> Project | None:
    if project is None:
        return None
    from interlace.project import Project, load_project

    return project if isinstance(project, Project) else load_project(project)


def target_of(
    model: Callable[..., Any] | ModelSpec | str | os.PathLike[str],
    name: str | None,
    source: Project | None,
) -> Target:
    from interlace.decorator import declaration_of
    from interlace.spec import ModelSpec, parse_options

    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    if isinstance(model, str) and source is not None and not model.endswith(".sql"):
        key = source.aliases.get(model, model)
        if key in source.models:
            model = source.models[key]
    if isinstance(model, ModelSpec):
        return Target(
            model.name,
            model.kind,
            model.options,
            model.schema,
            model.materialize,
            model.strategy,
            model.schema_mode,
            model.file,
            model.line,
            model.fn,
            model.sql,
            source=source,
        )
    if isinstance(model, str):
        return sql_target(model, name, source)
    if not callable(model):
        raise ModelTestError(
            f"cannot test a {type(model).__name__}",
            hint="pass a @model function, a ModelSpec, a .sql file path or SQL text",
        )
    declaration = declaration_of(model)
    code = getattr(model, "__code__", None)
    if declaration is not None:
        options, file, line = declaration.options, declaration.file, declaration.line
    else:
        file = code.co_filename if code else None
        line = code.co_firstlineno if code else None
        options = parse_options(
            {"name": getattr(model, "__name__", "model")}, where=(file, line), model=None
        )
    return Target(
        name or options.name or model.__name__,
        "python",
        options,
        *model_defaults(options),
        file=file,
        line=line,
        fn=model,
        source=source,
    )


def sql_target(text: str, name: str | None, source: Project | None) -> Target:
    from interlace.spec import parse_options
    from interlace.sql_models import read_sql_file, split_sql_file

    root = source.root if source is not None else Path.cwd()
    file: str | None = None
    if text.strip().endswith(".sql") and "\n" not in text.strip():
        path = Path(text.strip())
        if not path.is_absolute():
            path = root / path if (root / path).is_file() else Path.cwd() / path
        if not path.is_file():
            raise ModelTestError(f"SQL model file {text} does not exist", hint=f"looked in {root}")
        file = str(path)
        blocks = read_sql_file(path, file)
        default_name = path.stem
    else:
        blocks = split_sql_file(text, "<sql>")
        default_name = "model"
    blocks = [b for b in blocks if b.sql]
    if name is not None:
        named = [b for b in blocks if (b.options.get("name") or default_name) == name]
        if not named:
            raise ModelTestError(
                f"no model named '{name}' in the SQL",
                hint="models: "
                + ", ".join(str(b.options.get("name") or default_name) for b in blocks),
            )
        blocks = named
    if len(blocks) != 1:
        raise ModelTestError(
            f"the SQL holds {len(blocks)} models; say which one with name=...",
            file=file,
        )
    block = blocks[0]
    model_name = str(block.options.get("name") or name or default_name)
    options = parse_options(
        {**block.options, "name": model_name},
        where=(file, block.header_line),
        model=model_name,
        lines=block.option_lines,
    )
    return Target(
        model_name,
        "sql",
        options,
        *model_defaults(options),
        file=file,
        line=block.header_line,
        sql=block.sql,
        sql_line=block.sql_line,
        source=source,
    )


def model_defaults(options: ModelOptions) -> tuple[str, str, str, str]:
    from interlace.config import ModelDefaults

    defaults = ModelDefaults()
    return (
        options.schema_ or defaults.default_schema,
        options.materialize or defaults.default_materialize,
        options.strategy or defaults.default_strategy,
        options.schema_mode or defaults.default_schema_mode,
    )


def with_overrides(target: Target, overrides: dict[str, Any]) -> Target:
    """The model's options with the test's overrides, validated like the decorator's."""
    from dataclasses import replace

    from interlace.spec import parse_options

    current = target.options
    raw = {
        ("schema" if k == "schema_" else k): getattr(current, k) for k in current.model_fields_set
    }
    raw.pop("export", None)  # a test never writes export files
    raw.pop("retry_policy", None)  # nor retries
    raw.update(overrides)
    options = parse_options(raw, where=(target.file, target.line), model=target.name)
    changed = {k for k in overrides if k in ("schema", "materialize", "strategy", "schema_mode")}
    updated = replace(target, options=options)
    if changed:
        schema, materialize, strategy, schema_mode = model_defaults(options)
        updated = replace(
            updated,
            schema=schema if "schema" in changed else target.schema,
            materialize=materialize if "materialize" in changed else target.materialize,
            strategy=strategy if "strategy" in changed else target.strategy,
            schema_mode=schema_mode if "schema_mode" in changed else target.schema_mode,
        )
    if updated.materialize in ("view", "ephemeral"):
        # read back what the model computes: a table is the one relation every model can be
        updated = replace(updated, materialize="table")
    return updated


# ---------------------------------------------------------------------------- dependencies


@dataclass
class Dependency:
    name: str
    schema: str
    mock: MockDependency


def dependencies_of(
    target: Target, deps: Mapping[str, Any], query: Any
) -> tuple[dict[str, Dependency], dict[str, str]]:
    """Mocked dependencies by model name, and parameter renames for explicit mappings."""
    explicit = target.options.dependencies
    param_map = dict(explicit) if isinstance(explicit, dict) else {}
    refs: dict[str, str] = {}  # name -> schema the SQL reads it from
    if query is not None:
        from interlace.sql_models import table_references

        for table in table_references(query):
            if table.db:
                refs.setdefault(table.name, table.db)
    out: dict[str, Dependency] = {}
    for key, value in deps.items():
        mock = value if isinstance(value, MockDependency) else MockDependency(value)
        schema, _, dep_name = key.rpartition(".")
        mapped_schema, _, dep_name = param_map.get(dep_name, dep_name).rpartition(".")
        schema = schema or mapped_schema
        if dep_name == target.name:
            raise ModelTestError(
                f"deps names the tested model '{dep_name}' itself", model=target.name
            )
        source_schema = None
        if target.source is not None:
            known = target.source.models.get(target.source.aliases.get(key, dep_name))
            source_schema = known.schema if known is not None else None
        chosen = mock.schema or schema or refs.get(dep_name) or source_schema or "main"
        out[dep_name] = Dependency(dep_name, chosen, mock)
    return out, param_map


def check_inputs(target: Target, deps: dict[str, Dependency], query: Any) -> None:
    """A dependency the model reads but ``deps`` lacks is a test set-up error."""
    from interlace.spec import RESERVED_PARAMETERS

    missing: list[str] = []
    if target.kind == "python" and target.fn is not None:
        explicit = target.options.dependencies
        param_map = dict(explicit) if isinstance(explicit, dict) else {}
        for param in inspect.signature(target.fn).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if param.name in RESERVED_PARAMETERS:
                continue
            wanted = param_map.get(param.name, param.name)
            if wanted.rpartition(".")[2] not in deps and param.default is param.empty:
                missing.append(wanted)
    elif query is not None:
        from interlace.sql_models import table_references

        for table in table_references(query):
            if table.db.lower() in _SYSTEM_SCHEMAS:
                continue
            if table.name not in deps:
                missing.append(f"{table.db}.{table.name}" if table.db else table.name)
    if missing:
        example = ", ".join(f"'{m}': [...]" for m in dict.fromkeys(missing))
        raise ModelTestError(
            f"the model reads {', '.join(repr(m) for m in dict.fromkeys(missing))}, which "
            "deps= does not provide",
            model=target.name,
            file=target.file,
            line=target.line,
            hint=f"pass deps={{{example}}} (rows, a dict of columns, a DataFrame, an Arrow "
            "table or mock_dependency(...))",
        )


# ---------------------------------------------------------------------------- running
