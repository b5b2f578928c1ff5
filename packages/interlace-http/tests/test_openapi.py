"""The OpenAPI document comes from the routes, and the docs page works without internet."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from aiohttp import web
from interlace_http.app import create_http_app
from interlace_http.openapi import build_openapi
from interlace_http.routing import Router
from interlace_http.testing import ServedApp
from pydantic import BaseModel, ConfigDict, Field

router = Router("/api/v1", tags=["things"])


class Filter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: list[str] = Field(default_factory=list, description="Only these statuses")
    limit: int = Field(default=20, ge=1, le=500)


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(description="Why")


class Thing(BaseModel):
    id: int
    note: str | None = None


@router.get("/things", query=Filter, response=Thing)
async def list_things(request: web.Request, query: Filter) -> Thing:
    """List things."""
    return Thing(id=1)


@router.post(
    "/things/{thing_id}/change",
    body=Change,
    response=Thing,
    scope="write",
    path_types={"thing_id": int},
    errors=(404, 409),
)
async def change_thing(request: web.Request, thing_id: int, body: Change) -> Thing:
    """Change a thing."""
    return Thing(id=thing_id, note=body.note)


@router.get("/ping", public=True)
async def ping(request: web.Request) -> web.StreamResponse:
    """Ping."""
    return web.json_response({"ok": True})


@pytest.fixture(scope="module")
def served() -> Iterator[ServedApp]:
    app = create_http_app([router], title="Things", version="2.0", description="Test API")
    with ServedApp(app) as served:
        yield served


def test_document_is_openapi_3_1_built_from_the_routes(served: ServedApp) -> None:
    document = served.call("GET", "/api/openapi.json").json

    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "Things", "version": "2.0", "description": "Test API"}
    assert set(document["paths"]) == {
        "/api/v1/things",
        "/api/v1/things/{thing_id}/change",
        "/api/v1/ping",
        "/api/openapi.json",
    }
    listing = document["paths"]["/api/v1/things"]["get"]
    assert listing["operationId"] == "list_things" and listing["tags"] == ["things"]
    assert listing["parameters"] == [
        {
            "name": "status",
            "in": "query",
            "required": False,
            "schema": {"type": "array", "items": {"type": "string"}},
            "description": "Only these statuses",
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "default": 20, "minimum": 1, "maximum": 500},
        },
    ]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Thing"
    }
    change = document["paths"]["/api/v1/things/{thing_id}/change"]["post"]
    assert change["x-interlace-scope"] == "write"
    assert change["parameters"][0] == {
        "name": "thing_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }
    assert change["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Change"
    }
    assert set(change["responses"]) == {
        "200", "400", "401", "403", "404", "409", "413", "415", "422", "429"
    }  # fmt: skip
    error = document["components"]["schemas"]["ErrorResponse"]
    assert error["required"] == ["error"]
    assert document["components"]["schemas"]["Change"]["additionalProperties"] is False
    ping = document["paths"]["/api/v1/ping"]["get"]
    assert "401" not in ping["responses"]


def test_security_schemes_mark_every_route_that_is_not_public() -> None:
    schemes = {"bearer": {"type": "http", "scheme": "bearer"}}
    document = build_openapi([router], title="T", version="1", security_schemes=schemes)

    assert document["components"]["securitySchemes"] == schemes
    assert document["paths"]["/api/v1/things"]["get"]["security"] == [{"bearer": []}]
    assert document["paths"]["/api/v1/ping"]["get"]["security"] == []


def test_two_routes_with_one_operation_id_are_refused() -> None:
    other = Router("/api/v2")

    @other.get("/things")
    async def list_things(request: web.Request) -> None: ...

    with pytest.raises(ValueError, match="operation id 'list_things'"):
        build_openapi([router, other], title="T", version="1")


def test_docs_page_and_its_assets_are_served_locally(served: ServedApp) -> None:
    page = served.call("GET", "/api/docs")

    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "/api/openapi.json" in page.text and "validatorUrl: null" in page.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text)  # nothing remote
    for asset in re.findall(r"""(?:src|href)="([^"]+)\"""", page.text):
        fetched = served.call("GET", "/api/" + asset)
        assert fetched.status == 200, asset
        assert len(fetched.text) > 100
    assert served.call("GET", "/api/docs/assets/../../etc/passwd").status == 404
    assert served.call("GET", "/api/docs/assets/index.html").status == 404
