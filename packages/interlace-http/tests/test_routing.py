"""Typed routes behind the error format: what a client sees for good and bad input."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from interlace_http.app import create_http_app
from interlace_http.errors import not_found
from interlace_http.routing import Router, RouteSpec
from interlace_http.sse import EventStream, last_event_id
from interlace_http.testing import ServedApp
from pydantic import BaseModel, ConfigDict, Field

router = Router("/api/v1", tags=["items"])


class NewItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    count: int = Field(default=1, ge=0)
    tags: list[str] = Field(default_factory=list)


class Item(BaseModel):
    id: int
    name: str
    count: int
    tags: list[str]


class ItemQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag: list[str] = Field(default_factory=list, description="Keep items with these tags")
    limit: int = Field(default=10, ge=1, le=100)


class ItemList(BaseModel):
    items: list[Item]
    limit: int


ITEMS: dict[int, Item] = {}
SEEN: list[RouteSpec | None] = []


@router.post("/items", body=NewItem, response=Item, status=201, scope="write")
async def create_item(request: web.Request, body: NewItem) -> Item:
    """Create an item.

    The item gets the next id.
    """
    item = Item(id=len(ITEMS) + 1, **body.model_dump())
    ITEMS[item.id] = item
    return item


@router.get("/items/{item_id}", response=Item, path_types={"item_id": int}, errors=(404,))
async def get_item(request: web.Request, item_id: int) -> Item:
    """One item."""
    if item_id not in ITEMS:
        raise not_found(f"no item {item_id}", hint="GET /api/v1/items lists them")
    return ITEMS[item_id]


@router.get("/items", query=ItemQuery, response=ItemList)
async def list_items(request: web.Request, query: ItemQuery) -> ItemList:
    """Items, filtered by tag."""
    found = [i for i in ITEMS.values() if not query.tag or set(query.tag) & set(i.tags)]
    return ItemList(items=found[: query.limit], limit=query.limit)


@router.post("/explode", scope="admin")
async def explode(request: web.Request) -> None:
    """A handler with a bug."""
    raise RuntimeError("secret internal detail")


@router.get("/ticks", content_type="text/event-stream", public=True)
async def ticks(request: web.Request) -> web.StreamResponse:
    """Three events after the client's Last-Event-ID."""
    stream = await EventStream.open(request)
    start = last_event_id(request)
    for number in range(start + 1, start + 4):
        await stream.send({"n": number}, event="tick", id=number)
    return stream.response


@web.middleware
async def remember_route(request: web.Request, handler: Any) -> web.StreamResponse:
    SEEN.append(getattr(request.match_info.handler, "__interlace_route__", None))
    return await handler(request)


@pytest.fixture(scope="module")
def served() -> Iterator[ServedApp]:
    app = create_http_app(
        [router], title="Items", version="1.0", middlewares=[remember_route], max_body=2048
    )
    with ServedApp(app) as served:
        yield served


def test_valid_body_is_validated_and_answered_with_the_response_model(served: ServedApp) -> None:
    reply = served.call("POST", "/api/v1/items", json={"name": "bolt", "tags": ["a"]})

    assert reply.status == 201, reply
    assert reply.json == {"id": reply.json["id"], "name": "bolt", "count": 1, "tags": ["a"]}
    assert re.fullmatch(r"[0-9a-f]{32}", reply.headers["X-Request-ID"])
    fetched = served.call("GET", f"/api/v1/items/{reply.json['id']}")
    assert fetched.json["name"] == "bolt"


def test_every_handler_carries_its_route_spec_for_middleware(served: ServedApp) -> None:
    SEEN.clear()
    served.call("POST", "/api/v1/items", json={"name": "nut"})

    [spec] = SEEN
    assert spec is not None
    assert (spec.method, spec.path, spec.scope, spec.public) == (
        "POST",
        "/api/v1/items",
        "write",
        False,
    )
    assert spec.summary == "Create an item." and spec.description == "The item gets the next id."


def test_a_client_request_id_is_echoed(served: ServedApp) -> None:
    reply = served.call("GET", "/api/v1/items/999", headers={"X-Request-ID": "trace-42"})

    assert reply.status == 404
    assert reply.headers["X-Request-ID"] == "trace-42"
    assert reply.json == {
        "error": {
            "code": "not_found",
            "message": "no item 999 (hint: GET /api/v1/items lists them)",
            "details": {},
            "request_id": "trace-42",
        }
    }


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ('{"name": "x",', 400, "malformed_json", "not valid JSON: Expecting property name"),
        ('{"name": "x", "count": "many"}', 422, "validation_error", "body.count: Input should"),
        ('{"name": "x", "colour": "red"}', 422, "validation_error", "body.colour: unknown field"),
        ('{"count": 2}', 422, "validation_error", "body.name: required"),
        ('{"name": "x", "tags": [1]}', 422, "validation_error", "body.tags[0]: Input should"),
        ("[1, 2]", 422, "validation_error", "body: Input should be a valid dictionary"),
    ],
)
def test_bad_bodies_are_refused_naming_the_field(
    served: ServedApp, body: str, status: int, code: str, message: str
) -> None:
    reply = served.call(
        "POST", "/api/v1/items", data=body, headers={"Content-Type": "application/json"}
    )

    assert reply.status == status, reply
    error = reply.json["error"]
    assert error["code"] == code
    assert message in error["message"]
    assert error["request_id"] == reply.headers["X-Request-ID"]
    assert "Traceback" not in reply.text


def test_every_problem_is_listed_in_details(served: ServedApp) -> None:
    reply = served.call("POST", "/api/v1/items", json={"count": -1, "extra": True})

    fields = [e["field"] for e in reply.json["error"]["details"]["errors"]]
    assert sorted(fields) == ["body.count", "body.extra", "body.name"]
    assert "and 2 more problem(s)" in reply.json["error"]["message"]


def test_oversized_body_is_413_and_wrong_content_type_415(served: ServedApp) -> None:
    big = served.call("POST", "/api/v1/items", json={"name": "x" * 5000})
    text = served.call(
        "POST", "/api/v1/items", data="name=x", headers={"Content-Type": "text/plain"}
    )

    assert big.status == 413 and big.json["error"]["code"] == "payload_too_large"
    assert "at most 2048" in big.json["error"]["message"]
    assert text.status == 415 and "application/json" in text.json["error"]["message"]


def test_query_parameters_are_typed(served: ServedApp) -> None:
    served.call("POST", "/api/v1/items", json={"name": "tagged", "tags": ["red", "big"]})

    repeated = served.call("GET", "/api/v1/items?tag=red&tag=blue&limit=5")
    commas = served.call("GET", "/api/v1/items?tag=blue,big")
    wrong = served.call("GET", "/api/v1/items?limit=lots")
    unknown = served.call("GET", "/api/v1/items?colour=red")

    assert repeated.status == 200 and repeated.json["limit"] == 5
    assert [i["name"] for i in repeated.json["items"]] == ["tagged"]
    assert [i["name"] for i in commas.json["items"]] == ["tagged"]
    assert wrong.status == 422
    assert wrong.json["error"]["message"].startswith("query parameter 'limit':")
    assert unknown.status == 422 and "query parameter 'colour'" in unknown.json["error"]["message"]


def test_path_parameters_are_typed(served: ServedApp) -> None:
    reply = served.call("GET", "/api/v1/items/abc")
    huge = served.call("GET", "/api/v1/items/99999999999999999999999")

    assert reply.status == 422
    assert reply.json["error"]["message"].startswith("path parameter 'item_id'")
    assert huge.status == 422


def test_unknown_paths_and_methods_get_the_error_format(served: ServedApp) -> None:
    missing = served.call("GET", "/api/v1/nothing-here")
    method = served.call("DELETE", "/api/v1/items")

    assert missing.status == 404 and missing.json["error"]["code"] == "not_found"
    assert missing.headers["X-Request-ID"] == missing.json["error"]["request_id"]
    assert method.status == 405 and method.json["error"]["code"] == "method_not_allowed"
    assert "GET" in method.headers["Allow"]


def test_a_failing_handler_is_a_500_without_a_traceback(served: ServedApp) -> None:
    reply = served.call("POST", "/api/v1/explode")

    assert reply.status == 500
    assert reply.json["error"]["code"] == "internal_error"
    assert reply.json["error"]["request_id"] in reply.json["error"]["message"]
    assert "secret internal detail" not in reply.text and "Traceback" not in reply.text


def test_event_streams_resume_after_last_event_id(served: ServedApp) -> None:
    events = list(served.events("/api/v1/ticks", headers={"Last-Event-ID": "7"}, limit=3))

    assert [(e.event, e.id, e.json) for e in events] == [
        ("tick", "8", {"n": 8}),
        ("tick", "9", {"n": 9}),
        ("tick", "10", {"n": 10}),
    ]
