"""The OpenAPI 3.1 document, generated from routers: never written by hand.

Every route's :class:`~interlace_http.routing.RouteSpec` becomes an operation: its query model's
fields become query parameters, its body and response models become JSON schemas under
``components/schemas`` (pydantic's own JSON Schema, which OpenAPI 3.1 speaks natively), and the
errors it can answer refer to the one ``Error`` schema. Example::

    document = build_openapi([runs_router, models_router], title="Interlace", version="0.1.0")
    assert document["openapi"] == "3.1.0"
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic.json_schema import models_json_schema

from interlace_http.auth import is_public_path
from interlace_http.errors import STATUS_TITLES, ErrorResponse
from interlace_http.routing import Route, Router

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from pydantic import BaseModel

    from interlace_http.routing import RouteSpec

REF = "#/components/schemas/{model}"
_PATTERN = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
Mode = Literal["validation", "serialization"]


def openapi_path(path: str) -> str:
    """An aiohttp path (``{name:regex}``) as OpenAPI writes it (``{name}``)."""
    return _PATTERN.sub(r"{\1}", path)


def _routes(sources: Iterable[Router | Route]) -> list[Route]:
    routes: list[Route] = []
    for source in sources:
        routes.extend(source.routes if isinstance(source, Router) else [source])
    return [r for r in routes if r.spec.include_in_schema]


def build_openapi(
    sources: Iterable[Router | Route],
    *,
    title: str,
    version: str,
    description: str | None = None,
    security_schemes: Mapping[str, Any] | None = None,
    public_paths: Iterable[str] = (),
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``sources``. With ``security_schemes`` (e.g.
    :data:`interlace_http.sessions.SECURITY_SCHEMES`), every route that is not public requires
    one of them, and public ones (declared so, or whose path ``public_paths`` lists, as in
    ``service.auth.public_paths``) say they need none (``security: []``)."""
    public = list(public_paths)
    routes = _routes(sources)
    wanted: list[tuple[type[BaseModel], Mode]] = [(ErrorResponse, "serialization")]
    for route in routes:
        spec = route.spec
        if spec.body is not None:
            wanted.append((spec.body, "validation"))
        if spec.response is not None:
            wanted.append((spec.response, "serialization"))
    unique = list(dict.fromkeys(wanted))
    refs, definitions = models_json_schema(unique, ref_template=REF)
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: dict[str, str] = {}
    for route in routes:
        spec = route.spec
        seen = operation_ids.setdefault(spec.operation_id, spec.path)
        if seen != spec.path or spec.method.lower() in paths.get(openapi_path(spec.path), {}):
            raise ValueError(
                f"two routes share the operation id {spec.operation_id!r} ({seen} and "
                f"{spec.path}) or the same method and path: name one with operation_id="
            )
        operation = _operation(spec, refs, schemas, security_schemes, public)
        paths.setdefault(openapi_path(spec.path), {})[spec.method.lower()] = operation
    info: dict[str, Any] = {"title": title, "version": version}
    if description:
        info["description"] = description
    components: dict[str, Any] = {"schemas": dict(sorted(schemas.items()))}
    if security_schemes:
        components["securitySchemes"] = dict(security_schemes)
    return {
        "openapi": "3.1.0",
        "info": info,
        "paths": dict(sorted(paths.items())),
        "components": components,
    }


def _operation(
    spec: RouteSpec,
    refs: Mapping[tuple[Any, Mode], Any],
    schemas: dict[str, Any],
    security_schemes: Mapping[str, Any] | None,
    public_paths: list[str],
) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": spec.operation_id, "x-interlace-scope": spec.scope}
    if spec.summary:
        operation["summary"] = spec.summary
    if spec.description:
        operation["description"] = spec.description
    if spec.tags:
        operation["tags"] = list(spec.tags)
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer"}
            if spec.path_types.get(name) is int
            else {"type": "string"},
        }
        for name in spec.path_parameters
    ]
    if spec.query is not None:
        parameters += _query_parameters(spec.query, schemas)
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": refs[(spec.body, "validation")]}},
        }
    public = spec.public or is_public_path(spec.path, public_paths)
    operation["responses"] = _responses(spec, refs, public)
    if security_schemes:
        operation["security"] = [] if public else [{name: []} for name in security_schemes]
    return operation


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF, mode="validation")
    schemas.update(schema.get("$defs", {}))
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _responses(
    spec: RouteSpec, refs: Mapping[tuple[type[BaseModel], Mode], Any], public: bool
) -> dict[str, Any]:
    success: dict[str, Any] = {"description": spec.summary or "Success"}
    if spec.status != 204:
        if spec.response is not None:
            schema = refs[(spec.response, "serialization")]
        elif spec.content_type == "application/json":
            schema = {}
        else:
            schema = {"type": "string"}
        success["content"] = {spec.content_type: {"schema": schema}}
    responses: dict[str, Any] = {str(spec.status): success}
    statuses = set(spec.errors) | {429}
    if spec.body is not None:
        statuses |= {400, 413, 415, 422}
    if spec.query is not None or any(t is int for t in spec.path_types.values()):
        statuses.add(422)
    if not public:
        statuses |= {401, 403}
    error = refs[(ErrorResponse, "serialization")]
    for status in sorted(statuses):
        responses[str(status)] = {
            "description": STATUS_TITLES.get(status, "Error"),
            "content": {"application/json": {"schema": error}},
        }
    return responses
