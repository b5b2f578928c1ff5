"""The API fuzzed from its own OpenAPI document (schemathesis): whatever a client sends, no
response is a 5xx and every response matches the status codes and schemas the document
declares. The event stream (an endless response) is tested in test_events_sse.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from interlace.testing import ProjectFolder
from interlace_http.openapi import build_openapi
from interlace_service import __version__
from interlace_service.api import core_routers
from interlace_service.testing import Served
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi import checks

if TYPE_CHECKING:
    from schemathesis import Case

PROJECT = {
    "models/orders.sql": "-- @tags: [sales]\nSELECT * FROM (VALUES (1, 10.0)) AS t(id, amount)",
    "models/revenue.sql": (
        "-- @quality_checks: [{not_null: total}]\nSELECT sum(amount) AS total FROM orders"
    ),
    # SQL only: a Python model is compiled from its source on every run, and the runs fuzzed
    # requests trigger happen in the server's thread in this process, while hypothesis parses
    # lambdas' source in the test's thread; CPython 3.11.7 (before 3.11.8) can fail two AST
    # constructions at once ("AST constructor recursion depth mismatch"). The UI tests serve
    # Python models from a server process of their own.
    "models/customers.sql": "SELECT 1 AS id",
}


def _import_everything_served() -> None:
    """Import every module a request could import lazily, here in the test's thread, before any
    fuzzing: the server's thread then compiles no Python source while hypothesis parses lambdas
    (see PROJECT: CPython 3.11.7 can fail two AST constructions at once)."""
    import importlib
    import pkgutil

    for name in ("interlace", "interlace_http", "interlace_quality", "interlace_service"):
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            try:
                importlib.import_module(module.name)
            except Exception:  # an optional dependency this environment lacks
                pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = ProjectFolder.create(tmp_path_factory.mktemp("fuzzed")).write(PROJECT)
    served = Served.start(folder, grace=0.0)
    served.run_ok()  # something in the history, the state and the quality results
    _import_everything_served()
    yield served
    served.close()


# built from the routers at import (the parametrized tests are collected before any server
# runs); test_the_served_document_is_the_one_fuzzed checks it is what the server serves
DOCUMENT = build_openapi(core_routers(), title="Interlace", version=__version__)
schema = schemathesis.openapi.from_dict(DOCUMENT).exclude(path="/api/v1/events")


def test_the_served_document_is_the_one_fuzzed(served: Served) -> None:
    document = served.call("GET", "/api/openapi.json").json

    assert document["openapi"] == "3.1.0"
    for path, operations in DOCUMENT["paths"].items():
        assert document["paths"][path] == operations, path
    assert document["components"]["schemas"] == DOCUMENT["components"]["schemas"]


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_input_makes_the_api_fail_or_break_its_schema(case: Case, served: Served) -> None:
    # every check but "schema-valid data is accepted": a selector that names no model or a
    # window without `since` is valid JSON for the schema and rightly a 422 (it names why)
    excluded = [checks.positive_data_acceptance]
    query = case.meta.components.get(ParameterLocation.QUERY) if case.meta else None
    if query is not None and query.mode.is_negative:
        # a query string is text: the "boolean" `tag=true` is the text "true", an "array" of
        # no items is no parameter at all, so such requests are rightly accepted
        excluded.append(checks.negative_data_rejection)
    case.call_and_validate(base_url=served.http.url, excluded_checks=excluded)
