"""``/api/v1/graph``: the model dependency graph, and validating the project as it is on disk."""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace.errors import InterlaceError
from interlace_http.routing import Router
from pydantic import BaseModel, Field

from interlace_service.api.common import blocking
from interlace_service.schemas import Body
from interlace_service.service import service_of

if TYPE_CHECKING:
    from aiohttp import web

router = Router("/api/v1", tags=["graph"])


class Node(BaseModel):
    name: str
    kind: str
    schema_: str = Field(serialization_alias="schema")
    materialize: str
    connection: str
    tags: list[str]


class Edge(BaseModel):
    source: str = Field(description="The upstream model")
    target: str = Field(description="The model that reads it")


class GraphOut(BaseModel):
    nodes: list[Node] = Field(description="In run (topological) order")
    edges: list[Edge]


@router.get("/graph", response=GraphOut)
async def graph(request: web.Request) -> GraphOut:
    """The dependency graph of the served project."""
    project = service_of(request).project
    nodes = [
        Node(
            name=name,
            kind=spec.kind,
            schema_=spec.schema,
            materialize=spec.materialize,
            connection=spec.connection,
            tags=list(spec.tags),
        )
        for name, spec in ((n, project.models[n]) for n in project.graph.order)
    ]
    edges = [
        Edge(source=parent, target=name)
        for name in project.graph.order
        for parent in project.graph.parents.get(name, ())
    ]
    return GraphOut(nodes=nodes, edges=edges)


class Validate(Body):
    select: list[str] = Field(default_factory=list, description="Selectors to resolve too")
    exclude: list[str] = Field(default_factory=list)


class Problem(BaseModel):
    message: str
    hint: str | None = None
    file: str | None = None
    line: int | None = None
    model: str | None = None
    kind: str


class Validation(BaseModel):
    """Whether the project on disk loads (config, models, graph) and the selection resolves."""

    valid: bool
    problems: list[Problem]
    models: list[str] = Field(description="The selected models, in run order")


def _validate(root: str, env: str, select: list[str], exclude: list[str]) -> Validation:
    from interlace.project import load_project

    try:
        project = load_project(root, env=env)
        models = project.select(select, exclude)
    except InterlaceError as exc:
        return Validation(
            valid=False,
            problems=[
                Problem(
                    message=exc.message,
                    hint=exc.hint,
                    file=exc.file,
                    line=exc.line,
                    model=exc.model,
                    kind=type(exc).__name__,
                )
            ],
            models=[],
        )
    return Validation(valid=True, problems=[], models=models)


@router.post("/graph/validate", body=Validate, response=Validation, scope="read")
async def validate(request: web.Request, body: Validate) -> Validation:
    """Load the project from disk as it is now (not the served copy) and check it.

    A project that does not load is an answer here (``valid: false`` with the problem, its
    file and line), not an error.
    """
    service = service_of(request)
    return await blocking(
        request, _validate, str(service.root), service.env, body.select, body.exclude
    )
