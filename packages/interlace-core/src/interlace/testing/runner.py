"""`test_model`: run one model against mocked upstreams in a private in-memory DuckDB.

The model runs exactly as in a project run: a one-model project is built in memory, each mocked
dependency becomes a table (through the same code that writes a Python model's result), and the
model is run by the same :class:`~interlace.materialize.runner.ModelRunner` the executor uses: lazy ibis
inputs, ``context`` and ``cursor`` parameters, every return type, ``fields``/``strict``/
``column_mapping``, the strategy, declared quality checks. Its table is read back as Arrow.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import decimal
import functools
import inspect
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from interlace.errors import InterlaceError
from interlace.testing.targets import (
    ModelTestError,
    check_inputs,
    dependencies_of,
    load_source_project,
    target_of,
    with_overrides,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from interlace.project import Project
    from interlace.spec import ModelSpec

TEST_CONNECTION = "default"
TEST_ENV = "test"
# schemas a test query may read without a mocked dependency
_SYSTEM_SCHEMAS = {"information_schema", "pg_catalog"}


@dataclass
class ModelTestResult:
    """What a tested model produced.

    ``rows`` are dicts, ``table`` is the pyarrow Table, ``df`` a pandas DataFrame (built on first
    use); on failure ``status`` is ``"failed"`` and ``error`` says why.
    """

    name: str
    status: Literal["success", "failed"]
    table: pa.Table | None = None
    error: str | None = None
    message: str | None = None
    exception: BaseException | None = field(default=None, repr=False)
    traceback: str | None = field(default=None, repr=False)
    checks: tuple[Any, ...] = ()

    @property
    def success(self) -> bool:
        return self.status == "success"

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names) if self.table is not None else []

    @property
    def row_count(self) -> int:
        return self.table.num_rows if self.table is not None else 0

    @functools.cached_property
    def rows(self) -> list[dict[str, Any]]:
        return self.table.to_pylist() if self.table is not None else []

    @functools.cached_property
    def df(self) -> pd.DataFrame:
        try:
            import pandas as pd
        except ImportError:
            raise ModelTestError(
                "result.df needs pandas", hint="pip install pandas, or use result.rows"
            ) from None
        if self.table is None:
            return pd.DataFrame()
        frame: pd.DataFrame = self.table.to_pandas()
        return frame


# ---------------------------------------------------------------------------- public entry points


async def test_model(
    model: Callable[..., Any] | ModelSpec | str | os.PathLike[str],
    deps: Mapping[str, Any] | None = None,
    *,
    fields: Mapping[str, Any] | None = None,
    cursor: Any = None,
    name: str | None = None,
    project: str | Path | Project | None = None,
    checks: bool = True,
    **options: Any,
) -> ModelTestResult:
    """Run ``model`` against ``deps`` in an isolated in-memory DuckDB and return its rows.

    ``model`` is a ``@model`` function (or a plain function), a ``ModelSpec`` from a loaded
    project, a path to a ``.sql`` model file, SQL text, or a model name of ``project``. ``deps``
    maps upstream model names (or ``schema.name``, or parameter names) to data or
    :func:`mock_dependency`. ``fields`` and other keyword ``options`` override the model's own
    options; ``cursor`` is the last watermark an incremental model sees.

    A failing model gives ``status == "failed"`` and the ``error``; a wrongly set up test (a
    dependency the model reads but ``deps`` lacks) raises :class:`ModelTestError`.

    Example::

        result = await test_model(revenue, deps={"orders": [{"day": 1, "amount": 5.0}]})
        assert result.rows == [{"day": 1, "total": 5.0}]
    """
    return await asyncio.to_thread(
        _run_test,
        model,
        deps or {},
        fields=fields,
        cursor=cursor,
        name=name,
        project=project,
        checks=checks,
        options=options,
    )


def test_model_sync(
    model: Callable[..., Any] | ModelSpec | str | os.PathLike[str],
    deps: Mapping[str, Any] | None = None,
    *,
    fields: Mapping[str, Any] | None = None,
    cursor: Any = None,
    name: str | None = None,
    project: str | Path | Project | None = None,
    checks: bool = True,
    **options: Any,
) -> ModelTestResult:
    """Blocking :func:`test_model` (for plain pytest tests and scripts).

    Example::

        result = test_model_sync("models/stg_orders.sql", deps={"orders": rows})
        assert result.status == "success", result.error
    """
    run = functools.partial(
        _run_test,
        model,
        deps or {},
        fields=fields,
        cursor=cursor,
        name=name,
        project=project,
        checks=checks,
        options=options,
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        in_loop = False
    else:
        in_loop = True
    if not in_loop:
        return run()
    # called inside an event loop: async models need a thread without a running loop
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


# pytest collects module-level functions named test_*; these are helpers, not tests
test_model.__test__ = False  # type: ignore[attr-defined]
test_model_sync.__test__ = False  # type: ignore[attr-defined]


def _run_test(
    model: Callable[..., Any] | ModelSpec | str | os.PathLike[str],
    deps: Mapping[str, Any],
    *,
    fields: Mapping[str, Any] | None,
    cursor: Any,
    name: str | None,
    project: str | Path | Project | None,
    checks: bool,
    options: dict[str, Any],
) -> ModelTestResult:
    from interlace import statements as st
    from interlace.config import LoadedConfig, ProjectConfig
    from interlace.connection_config import DuckDBConnectionConfig
    from interlace.graph import build_graph
    from interlace.materialize.catalog import RunCatalog
    from interlace.materialize.runner import ModelRunner
    from interlace.project import Project
    from interlace.project_checks import resolve_dependencies
    from interlace.run_session import RunSession
    from interlace.spec import ModelSpec, parse_options
    from interlace.sql_cache import describe as describe_sql
    from interlace.sql_models import parse_query

    source = load_source_project(project)
    target = target_of(model, name, source)
    overrides = dict(options)
    if fields is not None:
        overrides["fields"] = dict(fields)
    target = with_overrides(target, overrides)
    query = None
    if target.kind == "sql":
        assert target.sql is not None
        query = parse_query(
            target.sql,
            file=target.file or "<sql>",
            line_offset=target.sql_line,
            model=target.name,
            dialect="duckdb",
        )
    mocked, _ = dependencies_of(target, deps, query)
    check_inputs(target, mocked, query)

    specs: dict[str, ModelSpec] = {}
    for dep in mocked.values():
        dep_options = parse_options(
            {"name": dep.name, "schema": dep.schema, "fields": dict(dep.mock.fields or {})},
            where=(None, None),
            model=dep.name,
        )
        specs[dep.name] = ModelSpec(
            name=dep.name,
            kind="python",
            schema=dep.schema,
            connection=TEST_CONNECTION,
            materialize="table",
            strategy="replace",
            schema_mode="safe",
            options=dep_options,
            fn=functools.partial(_identity, dep.mock.data),
        )
    spec = ModelSpec(
        name=target.name,
        kind=target.kind,
        schema=target.schema,
        connection=TEST_CONNECTION,
        materialize=target.materialize,
        strategy=target.strategy,
        schema_mode=target.schema_mode,
        options=target.options,
        file=target.file,
        line=target.line,
        fn=target.fn,
        sql=target.sql,
        is_async=target.fn is not None
        and (inspect.iscoroutinefunction(target.fn) or inspect.isasyncgenfunction(target.fn)),
    )
    specs[spec.name] = spec
    aliases = {f"{s.schema}.{s.name}": s.name for s in specs.values()}
    facts = describe_sql(query, "duckdb") if query is not None else None
    spec = resolve_dependencies(spec, specs, aliases, facts.refs if facts else None)
    specs[spec.name] = spec
    root = source.root if source is not None else _root_of(target.file)
    config = ProjectConfig(
        name="interlace_test",
        connections={TEST_CONNECTION: DuckDBConnectionConfig(path=":memory:")},
    )
    test_project = Project(
        root=root,
        env=TEST_ENV,
        loaded=LoadedConfig(config=config, env=TEST_ENV, root=root, files=[]),
        models=specs,
        graph=build_graph({n: list(s.depends_on) for n, s in specs.items()}),
        queries={spec.name: query} if query is not None else {},
        sql_facts={spec.name: facts} if facts is not None else {},
        aliases=aliases,
        checks=_declared_checks(spec) if checks else {},
    )
    # the run lifecycle of every run, without a state store: the test's database is private
    run = RunSession(test_project)
    try:
        engines = run.open_engines([TEST_CONNECTION])
        session = engines[TEST_CONNECTION].session()
    except BaseException:
        run.close()
        raise
    catalog = RunCatalog(project=test_project, run_id=run.run_id, engines=engines)
    if cursor is not None:
        catalog.watermarks[spec.name] = _watermark(spec, cursor)
    try:
        for dep in mocked.values():
            try:
                ModelRunner(specs[dep.name], catalog, session).run()
            except InterlaceError as exc:
                raise ModelTestError(
                    f"deps['{dep.name}'] cannot become a table: {exc.message}",
                    model=target.name,
                    hint=exc.hint or "pass rows, a dict of columns, a DataFrame or an Arrow table",
                ) from None
        try:
            outcome = ModelRunner(spec, catalog, session).run()
        except Exception as exc:
            return _failed(spec.name, exc)
        relation = catalog.target_of(spec)
        table = None
        if session.relation_kind(relation.db, relation.name) is not None:
            table = session.fetch_arrow(st.select_all(relation))
        return ModelTestResult(
            spec.name,
            "success",
            table=table,
            message=outcome.message,
            checks=tuple(outcome.checks),
        )
    finally:
        session.close()
        run.close()


def _root_of(file: str | None) -> Path:
    """Where a model's own code lives (its project folder, else its file's folder): tracebacks
    of a failing model show the frames below it."""
    if file is None or not Path(file).is_file():
        return Path.cwd()
    path = Path(file).resolve()
    for folder in path.parents:
        if (folder / "config.yaml").is_file() or (folder / "interlace.yaml").is_file():
            return folder
    return path.parent


def _identity(value: Any) -> Any:
    return value


def _failed(name: str, exc: BaseException) -> ModelTestResult:
    if isinstance(exc, InterlaceError):
        message = exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
    else:
        message = f"{type(exc).__name__}: {str(exc).strip()}"
    return ModelTestResult(
        name,
        "failed",
        error=message,
        exception=exc,
        traceback=exc.user_traceback if isinstance(exc, InterlaceError) else None,
        checks=tuple(getattr(exc, "results", ())),
    )


def _declared_checks(spec: ModelSpec) -> dict[str, list[Any]]:
    declared = list(spec.options.quality_checks)
    if not declared:
        return {}
    from interlace.plugins import runner_or_error

    runner = runner_or_error(spec.name, spec.file, spec.line)
    return {spec.name: runner.validate(spec.name, declared, spec.file, spec.line)}


def _watermark(spec: ModelSpec, value: Any) -> Any:
    from interlace.incremental import cursor_text
    from interlace.state.base import Watermark

    if isinstance(value, bool):
        kind = "BOOLEAN"
    elif isinstance(value, int):
        kind = "BIGINT"
    elif isinstance(value, float):
        kind = "DOUBLE"
    elif isinstance(value, decimal.Decimal):
        kind = "DECIMAL(38, 10)"
    elif isinstance(value, dt.datetime):
        kind = "TIMESTAMPTZ" if value.tzinfo is not None else "TIMESTAMP"
    elif isinstance(value, dt.date):
        kind = "DATE"
    else:
        kind = "VARCHAR"
    column = spec.options.cursor.column if spec.options.cursor else ""
    return Watermark(
        model=spec.name,
        cursor_column=column,
        value=cursor_text(value),
        value_type=kind,
        run_id=None,
        updated_at=time.time(),
    )
