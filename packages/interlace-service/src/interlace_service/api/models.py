"""``/api/v1/models``: list and filter the project's models; one model's definition, runs,
statistics, columns, current state and schema history.

Everything here reads the loaded project and the state store; nothing opens a warehouse
connection (columns are those recorded by the model's last schema version).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web
from interlace_http.errors import HTTPError
from interlace_http.routing import Router
from pydantic import BaseModel, Field

from interlace_service.api.common import blocking, model_or_404
from interlace_service.schemas import Query, Task, TaskList, TaskState, when
from interlace_service.service import service_of

if TYPE_CHECKING:
    from interlace.project import Project
    from interlace.spec import ModelSpec
    from interlace.state.base import StateStore

router = Router("/api/v1", tags=["models"])
NAME = {"errors": (404,)}


def _json(value: Any) -> Any:
    """Plain JSON data of an option value (callables and objects become their text)."""
    return json.loads(json.dumps(value, default=str))


class ModelSummary(BaseModel):
    name: str
    schema_: str = Field(alias="schema", serialization_alias="schema")
    kind: str = Field(description="python, sql (extensions add kinds such as stream)")
    materialize: str
    strategy: str
    connection: str
    tags: list[str]
    description: str | None = None
    owner: str | None = None
    file: str | None = None
    depends_on: list[str]
    dependents: list[str]

    @classmethod
    def of(cls, project: Project, spec: ModelSpec) -> ModelSummary:
        return cls(
            name=spec.name,
            schema=spec.schema,
            kind=spec.kind,
            materialize=spec.materialize,
            strategy=spec.strategy,
            connection=spec.connection,
            tags=list(spec.tags),
            description=spec.description,
            owner=spec.options.owner,
            file=spec.location,
            depends_on=list(project.graph.parents.get(spec.name, ())),
            dependents=list(project.graph.children.get(spec.name, ())),
        )


class ModelList(BaseModel):
    items: list[ModelSummary]
    total: int


class ModelFilter(Query):
    tag: list[str] = Field(default_factory=list, description="Models with any of these tags")
    schema_: str | None = Field(default=None, alias="schema")
    kind: Literal["python", "sql"] | None = None
    materialize: str | None = None
    connection: str | None = None
    search: str | None = Field(
        default=None, description="Case-insensitive text in the name or description"
    )


class _Summaries:
    """The model summaries of the project last served, in run order, and the JSON of the whole
    list: built once per project load (``--reload`` makes a new project), not per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._project: Project | None = None
        self._items: list[tuple[ModelSpec, ModelSummary]] = []
        self._everything = b""

    def of(self, project: Project) -> tuple[list[tuple[ModelSpec, ModelSummary]], bytes]:
        with self._lock:
            if self._project is not project:
                items = [
                    (project.models[name], ModelSummary.of(project, project.models[name]))
                    for name in project.graph.order
                ]
                listed = ModelList(items=[summary for _, summary in items], total=len(items))
                self._everything = listed.model_dump_json(by_alias=True).encode()
                self._items, self._project = items, project
            return self._items, self._everything


_SUMMARIES = _Summaries()


@router.get("/models", query=ModelFilter, response=ModelList)
async def list_models(request: web.Request, query: ModelFilter) -> ModelList | web.Response:
    """The project's models in run order, filtered."""
    project = service_of(request).project
    items, everything = _SUMMARIES.of(project)
    if query == _NO_FILTER:  # the common request: the prepared JSON of every model
        return web.Response(body=everything, content_type="application/json")
    found = []
    text = (query.search or "").lower()
    for spec, summary in items:
        name = spec.name
        if query.tag and not set(query.tag) & set(spec.tags):
            continue
        if query.schema_ is not None and spec.schema != query.schema_:
            continue
        if query.kind is not None and spec.kind != query.kind:
            continue
        if query.materialize is not None and spec.materialize != query.materialize:
            continue
        if query.connection is not None and spec.connection != query.connection:
            continue
        if text and text not in name.lower() and text not in (spec.description or "").lower():
            continue
        found.append(summary)
    return ModelList(items=found, total=len(found))


_NO_FILTER = ModelFilter()


class DeclaredCheck(BaseModel):
    name: str
    check_type: str
    severity: str


class ModelDetail(ModelSummary):
    """Everything the model declares, with its SQL (SQL models)."""

    qualified_name: str
    schema_mode: str
    primary_key: list[str]
    cursor: str | None = None
    schedule: dict[str, Any] | None = None
    sql: str | None = None
    source: str | None = Field(default=None, description="A Python model's function source")
    checks: list[DeclaredCheck]
    options: dict[str, Any] = Field(description="The options it sets (others are defaults)")


@router.get("/models/{name}", response=ModelDetail, **NAME)
async def get_model(request: web.Request, name: str) -> ModelDetail:
    """One model's definition."""
    project = service_of(request).project
    spec = model_or_404(project, name)
    options = spec.options
    summary = ModelSummary.of(project, spec).model_dump(by_alias=True)
    return ModelDetail(
        **summary,
        qualified_name=spec.qualified_name,
        schema_mode=spec.schema_mode,
        primary_key=list(options.primary_key),
        cursor=options.cursor.column if options.cursor else None,
        schedule=_json(options.schedule),
        sql=spec.sql,
        source=_source(spec),
        checks=[
            DeclaredCheck(
                name=str(getattr(check, "label", None) or getattr(check, "name", "") or check),
                check_type=str(getattr(check, "check_type", type(check).__name__)),
                severity=str(getattr(check, "severity", "error")),
            )
            for check in project.checks.get(spec.name, [])
        ],
        options=_json(
            {
                key: value
                for key, value in options.model_dump(exclude_defaults=True, by_alias=True).items()
                if key != "quality_checks"
            }
        ),
    )


def _source(spec: ModelSpec) -> str | None:
    """The source of a Python model's function (None for SQL models, or when unavailable)."""
    if spec.fn is None or spec.sql is not None:
        return None
    import inspect
    import textwrap

    try:
        return textwrap.dedent(inspect.getsource(spec.fn))
    except (OSError, TypeError):
        return None


class TaskFilter(Query):
    status: TaskState | None = None
    limit: int = Field(default=50, ge=1, le=1000)


@router.get("/models/{name}/runs", query=TaskFilter, response=TaskList, **NAME)
async def model_runs(request: web.Request, name: str, query: TaskFilter) -> TaskList:
    """The model's runs (its part of each), newest first."""
    service = service_of(request)
    spec = model_or_404(service.project, name)
    records = await blocking(
        request, service.store.model_runs, None, spec.name, query.limit * 4, service.env
    )
    tasks = [Task.of(r) for r in records if query.status is None or r.status == query.status]
    return TaskList(items=tasks[: query.limit])


class ModelStats(BaseModel):
    """Statistics over the model's recorded runs in this environment."""

    model: str
    runs: int
    succeeded: int
    failed: int
    skipped: int
    last_status: TaskState | None = None
    last_run_id: str | None = None
    last_success_at: dt.datetime | None = None
    last_duration: float | None = None
    average_duration: float | None = Field(default=None, description="Seconds, successful runs")
    last_rows: int | None = None


@router.get("/models/{name}/stats", response=ModelStats, **NAME)
async def model_stats(request: web.Request, name: str) -> ModelStats:
    """Run statistics of the model (over its last 1000 runs)."""
    service = service_of(request)
    spec = model_or_404(service.project, name)
    records = await blocking(request, service.store.model_runs, None, spec.name, 1000, service.env)
    ok = [r for r in records if r.status == "success"]
    durations = [r.duration for r in ok if r.duration is not None]
    last = records[0] if records else None
    return ModelStats(
        model=spec.name,
        runs=len(records),
        succeeded=len(ok),
        failed=sum(1 for r in records if r.status == "failed"),
        skipped=sum(1 for r in records if r.status == "skipped"),
        last_status=last.status if last else None,
        last_run_id=last.run_id if last else None,
        last_success_at=when(ok[0].finished_at) if ok else None,
        last_duration=last.duration if last else None,
        average_duration=sum(durations) / len(durations) if durations else None,
        last_rows=ok[0].rows if ok else None,
    )


class Column(BaseModel):
    name: str
    type: str
    description: str | None = Field(default=None, description="As declared in fields")


class ColumnList(BaseModel):
    """Columns as declared (``fields``) and as recorded by the last schema version."""

    model: str
    declared: list[Column]
    recorded: list[Column]
    version: int | None = Field(default=None, description="The schema version recorded")


@router.get("/models/{name}/columns", response=ColumnList, **NAME)
async def model_columns(request: web.Request, name: str) -> ColumnList:
    """The model's columns."""
    service = service_of(request)
    spec = model_or_404(service.project, name)
    versions = await blocking(request, service.store.schema_versions, service.env, spec.name)
    latest = versions[-1] if versions else None
    return ColumnList(
        model=spec.name,
        declared=[
            Column(
                name=c,
                type=str(t),
                description=getattr(spec.column_docs.get(c), "description", None),
            )
            for c, t in spec.options.fields.items()
        ],
        recorded=[Column(name=c, type=t) for c, t in latest.columns] if latest else [],
        version=latest.version if latest else None,
    )


class Watermark(BaseModel):
    column: str
    value: str
    type: str
    updated_at: dt.datetime | None


class ModelCurrent(BaseModel):
    """The model's state now: what the last success recorded, and whether its definition
    changed since (it would run again)."""

    model: str
    fingerprint: str = Field(description="Of the definition as loaded now")
    recorded_fingerprint: str | None = None
    changed: bool = Field(description="The definition differs from the last success's")
    data_version: int | None = None
    last_run_id: str | None = None
    last_success_at: dt.datetime | None = None
    upstream_versions: dict[str, int] = Field(default_factory=dict)
    watermark: Watermark | None = None
    schema_version: int | None = None


def _current(store: StateStore, project: Project, spec: ModelSpec) -> ModelCurrent:
    from interlace.fingerprint import fingerprints

    fingerprint = fingerprints(project)[spec.name]
    state = store.model_states(project.env, [spec.name]).get(spec.name)
    mark = store.get_watermark(project.env, spec.name)
    versions = store.schema_versions(project.env, spec.name)
    return ModelCurrent(
        model=spec.name,
        fingerprint=fingerprint,
        recorded_fingerprint=state.fingerprint if state else None,
        changed=state is None or state.fingerprint != fingerprint,
        data_version=state.data_version if state else None,
        last_run_id=state.last_run_id if state else None,
        last_success_at=when(state.last_success_at) if state else None,
        upstream_versions=dict(state.upstream_versions) if state else {},
        watermark=Watermark(
            column=mark.cursor_column,
            value=mark.value,
            type=mark.value_type,
            updated_at=when(mark.updated_at),
        )
        if mark
        else None,
        schema_version=versions[-1].version if versions else None,
    )


@router.get("/models/{name}/current", response=ModelCurrent, **NAME)
async def model_current(request: web.Request, name: str) -> ModelCurrent:
    """The model's current state (fingerprint, data version, watermark)."""
    service = service_of(request)
    project = service.project
    spec = model_or_404(project, name)
    return await blocking(request, _current, service.store, project, spec)


class SchemaVersionOut(BaseModel):
    version: int
    columns: list[Column]
    change: str | None = None
    run_id: str | None = None
    created_at: dt.datetime | None


class SchemaHistory(BaseModel):
    model: str
    env: str
    versions: list[SchemaVersionOut]


@router.get("/models/{name}/schema", response=SchemaHistory, **NAME)
async def schema_history(request: web.Request, name: str) -> SchemaHistory:
    """Every recorded schema version of the model, oldest first."""
    service = service_of(request)
    spec = model_or_404(service.project, name)
    versions = await blocking(request, service.store.schema_versions, service.env, spec.name)
    return SchemaHistory(
        model=spec.name,
        env=service.env,
        versions=[
            SchemaVersionOut(
                version=v.version,
                columns=[Column(name=c, type=t) for c, t in v.columns],
                change=v.change,
                run_id=v.run_id,
                created_at=when(v.created_at),
            )
            for v in versions
        ],
    )


class DiffQuery(Query):
    from_: int | None = Field(default=None, alias="from", ge=1, le=2**31, description="Version")
    to: int | None = Field(default=None, ge=1, le=2**31, description="Version (default: latest)")
    env1: str | None = Field(default=None, description="Compare this environment's latest ...")
    env2: str | None = Field(default=None, description="... with this one's")


class ColumnChangeOut(BaseModel):
    kind: Literal["added", "changed", "removed"]
    column: str
    old_type: str | None = None
    new_type: str | None = None


class SchemaDiff(BaseModel):
    model: str
    from_: str = Field(serialization_alias="from", description="env:version")
    to: str = Field(description="env:version")
    changes: list[ColumnChangeOut]


@router.get("/models/{name}/schema/diff", query=DiffQuery, response=SchemaDiff, **NAME)
async def schema_diff(request: web.Request, name: str, query: DiffQuery) -> SchemaDiff:
    """What changed in the model's columns between two versions or two environments."""
    from interlace.schema_diff import diff_columns

    service = service_of(request)
    spec = model_or_404(service.project, name)
    store = service.store
    if query.env1 or query.env2:
        if not (query.env1 and query.env2):
            raise HTTPError(422, "env1 and env2 go together", code="validation_error")
        left_all = await blocking(request, store.schema_versions, query.env1, spec.name)
        right_all = await blocking(request, store.schema_versions, query.env2, spec.name)
        if not left_all or not right_all:
            missing = query.env1 if not left_all else query.env2
            raise HTTPError(
                404, f"no schema recorded for '{spec.name}' in env {missing}: run it there first"
            )
        left, right = left_all[-1], right_all[-1]
        names = (f"{query.env1}:{left.version}", f"{query.env2}:{right.version}")
    else:
        recorded = await blocking(request, store.schema_versions, service.env, spec.name)
        versions = {v.version: v for v in recorded}
        if not versions:
            raise HTTPError(404, f"no schema versions recorded for '{spec.name}' yet: run it")
        newest = max(versions)
        to_number = query.to or newest
        from_number = query.from_ or max(1, to_number - 1)
        for number in (from_number, to_number):
            if number not in versions:
                raise HTTPError(
                    404, f"'{spec.name}' has no schema version {number} (versions 1..{newest})"
                )
        left, right = versions[from_number], versions[to_number]
        names = (f"{service.env}:{left.version}", f"{service.env}:{right.version}")
    return SchemaDiff(
        model=spec.name,
        from_=names[0],
        to=names[1],
        changes=[
            ColumnChangeOut(kind=c.kind, column=c.column, old_type=c.old_type, new_type=c.new_type)
            for c in diff_columns(left.columns, right.columns)
        ],
    )
