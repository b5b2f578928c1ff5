"""Typed routes: a handler, its pydantic models and what it needs, in one declaration.

A :class:`Router` collects routes; each is described by a frozen :class:`RouteSpec` (method,
path, summary, tags, request body / query / response models, the scope it needs, whether it is
public). The same specs generate the OpenAPI document (:mod:`interlace_http.openapi`), so the
document cannot drift from the code.

Every aiohttp handler a router registers carries its spec as ``__interlace_route__``: middleware
reads it with ``getattr(request.match_info.handler, "__interlace_route__", None)`` (auth checks
``scope`` and ``public``; a route without a spec is not one of ours).

A handler is ``async def handler(request, **inputs)``: ``inputs`` holds the path parameters by
name (``str``, or the type ``path_types`` gives), ``query`` (an instance of the query model)
and ``body`` (an instance of the body model) when the route declares them. It returns an
instance of its response model (sent as JSON with the route's status), ``None`` for a 204, or
any aiohttp response it built itself (a stream). Example::

    router = Router("/api/v1", tags=["runs"])

    @router.get("/runs/{run_id}", response=Run, scope="read", errors=(404,))
    async def get_run(request: web.Request, run_id: str) -> Run:
        '''One run: its status and counts.'''
        ...

    router.add_to(app)
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel

from interlace_http.validation import DEFAULT_MAX_BODY, parse_body, parse_path, parse_query

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

Scope = Literal["read", "write", "execute", "admin"]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
Handler = Callable[..., Awaitable[Any]]
H = TypeVar("H", bound=Handler)

# the application's default body limit (bytes); a route's ``max_body`` overrides it
MAX_BODY: web.AppKey[int] = web.AppKey("interlace_http.max_body", int)


@dataclass(frozen=True, kw_only=True)
class RouteSpec:
    """What a route is: everything the OpenAPI document, validation and auth need."""

    method: Method
    path: str  # the full path, with ``{name}`` parameters
    scope: Scope = "read"  # what an API key needs to call it
    public: bool = False  # callable without credentials (health, docs)
    summary: str = ""
    description: str | None = None
    tags: tuple[str, ...] = ()
    operation_id: str = ""
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    # the success response's media type: JSON (with ``response``), or e.g. text/event-stream
    content_type: str = "application/json"
    errors: tuple[int, ...] = ()  # error statuses the handler itself answers (404, 409, ...)
    path_types: Mapping[str, type] = field(default_factory=dict)
    max_body: int | None = None
    include_in_schema: bool = True

    @property
    def path_parameters(self) -> list[str]:
        """The ``{name}`` parameters of the path, in order."""
        return [part[1:-1].split(":")[0] for part in _segments(self.path) if part[:1] == "{"]


def _segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


@dataclass(frozen=True)
class Route:
    """A spec and the aiohttp handler that serves it (validation around the user's function)."""

    spec: RouteSpec
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]


def render(spec: RouteSpec, result: Any) -> web.StreamResponse:
    """The response of what a handler returned."""
    if isinstance(result, web.StreamResponse):
        return result
    if result is None:
        return web.Response(status=204 if spec.status == 200 else spec.status)
    if isinstance(result, BaseModel):
        text = result.model_dump_json(by_alias=True)
    else:
        text = web.json_response(result).text or "null"
    return web.Response(text=text, status=spec.status, content_type="application/json")


def _wrap(spec: RouteSpec, fn: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        inputs: dict[str, Any] = parse_path(request.match_info, spec.path_types)
        if spec.query is not None:
            inputs["query"] = parse_query(request.query, spec.query)
        if spec.body is not None:
            limit = spec.max_body or request.app.get(MAX_BODY, DEFAULT_MAX_BODY)
            inputs["body"] = await parse_body(request, spec.body, limit)
        return render(spec, await fn(request, **inputs))

    handler.__name__ = getattr(fn, "__name__", "handler")
    handler.__qualname__ = getattr(fn, "__qualname__", handler.__name__)
    handler.__doc__ = fn.__doc__
    handler.__interlace_route__ = spec  # type: ignore[attr-defined]
    return handler


class Router:
    """A group of routes under one path ``prefix`` (and default ``tags``)."""

    def __init__(self, prefix: str = "", *, tags: Iterable[str] = ()) -> None:
        self.prefix = prefix.rstrip("/")
        self.tags = tuple(tags)
        self._routes: list[Route] = []

    def route(
        self,
        method: Method,
        path: str,
        *,
        summary: str | None = None,
        description: str | None = None,
        scope: Scope | None = None,
        public: bool = False,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        content_type: str = "application/json",
        errors: Iterable[int] = (),
        tags: Iterable[str] | None = None,
        path_types: Mapping[str, type] | None = None,
        max_body: int | None = None,
        operation_id: str | None = None,
        include_in_schema: bool = True,
    ) -> Callable[[H], H]:
        """Register the decorated handler for ``method`` ``prefix + path``. ``summary`` and
        ``description`` default to the docstring's first line and the rest; ``scope`` to
        ``read`` for GET and ``write`` otherwise."""

        def decorate(fn: H) -> H:
            doc = inspect.cleandoc(fn.__doc__ or "")
            first, _, rest = doc.partition("\n")
            spec = RouteSpec(
                method=method,
                path=self.prefix + path,
                scope=scope or ("read" if method == "GET" else "write"),
                public=public,
                summary=summary or first.strip(),
                description=description or (rest.strip() or None),
                tags=tuple(tags) if tags is not None else self.tags,
                operation_id=operation_id or fn.__name__,
                body=body,
                query=query,
                response=response,
                status=status,
                content_type=content_type,
                errors=tuple(errors),
                path_types=dict(path_types or {}),
                max_body=max_body,
                include_in_schema=include_in_schema,
            )
            self._routes.append(Route(spec, _wrap(spec, fn)))
            return fn

        return decorate

    def get(self, path: str, **kwargs: Any) -> Callable[[H], H]:
        return self.route("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[H], H]:
        return self.route("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Callable[[H], H]:
        return self.route("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[H], H]:
        return self.route("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[H], H]:
        return self.route("DELETE", path, **kwargs)

    def include(self, other: Router) -> None:
        """Take ``other``'s routes into this router (their paths stay as they are)."""
        self._routes.extend(other.routes)

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(self._routes)

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)

    def add_to(self, app: web.Application) -> None:
        """Register every route on ``app``."""
        for route in self._routes:
            app.router.add_route(route.spec.method, route.spec.path, route.handler)


def route_of(request: web.Request) -> RouteSpec | None:
    """The spec of the route a request matched, or None (no route, or not a Router's)."""
    spec = getattr(request.match_info.handler, "__interlace_route__", None)
    return spec if isinstance(spec, RouteSpec) else None
