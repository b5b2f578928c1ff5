"""``GET /metrics``: Prometheus metrics fed by real runs and real requests, with its own
registry per app, behind a `read` key unless listed as public."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from interlace.testing import ProjectFolder
from interlace_http.apikeys import create_api_key, key_store
from interlace_http.settings import SecuritySettings, load_settings
from interlace_http.testing import ServedApp
from interlace_service.app import create_app
from interlace_service.metrics import ServiceMetrics
from interlace_service.options import ServiceOptions
from interlace_service.service import Service
from interlace_service.testing import wait_for
from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from conftest import ServeProject
    from interlace_service.testing import Served

FLAKY = """
from pathlib import Path

from interlace import model
from interlace.retry import RetryPolicy

ROOT = Path(__file__).parent.parent

@model(retry_policy=RetryPolicy(max_attempts=2, initial_delay=0, jitter=0))
def flaky():
    marker = ROOT / "flaky.tried"
    if not marker.exists():
        marker.write_text("")
        raise ConnectionError("first try fails")
    return [{"id": 1}, {"id": 2}, {"id": 3}]
"""

FILES = {
    "models/orders.sql": "SELECT * FROM (VALUES (1, 10.0), (2, 20.0)) AS t(id, amount)",
    "models/revenue.sql": (
        "-- @quality_checks: [{not_null: total}]\nSELECT sum(amount) AS total FROM orders"
    ),
    "models/broken.sql": "SELECT no_such_column FROM orders",
    "models/flaky.py": FLAKY,
}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """``{(sample name, labels): value}`` of an exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


def scrape(served: Served) -> str:
    reply = served.call("GET", "/metrics")
    assert reply.status == 200, reply
    assert reply.headers["Content-Type"].startswith("text/plain")
    return reply.text


@pytest.fixture(scope="module")
def served(serve_project: ServeProject) -> Served:
    return serve_project(FILES)


def test_metrics_count_runs_models_rows_checks_failures_and_retries(served: Served) -> None:
    served.run_ok(select=["+revenue", "flaky"])
    failed = served.wait_run(served.trigger(select=["broken"])["id"])
    assert failed["status"] == "failed"

    def counted() -> str | None:
        text = scrape(served)
        done = value(text, "interlace_runs_total", status="failed")
        return text if done == 1 else None

    text = wait_for(counted, 30, "the failed run in the metrics")

    assert value(text, "interlace_runs_total", status="success") == 1
    assert value(text, "interlace_run_duration_seconds_count", status="success") == 1
    assert value(text, "interlace_model_rows_written_total", model="orders") == 2
    assert value(text, "interlace_model_rows_written_total", model="flaky") == 3
    assert value(text, "interlace_model_runs_total", model="revenue", status="success") == 1
    assert value(text, "interlace_model_duration_seconds_count", model="orders", status="success")
    assert value(text, "interlace_model_retries_total", model="flaky") == 1
    failures = {
        dict(labels)["error_type"]: v
        for (name, labels), v in samples(text).items()
        if name == "interlace_model_failures_total" and ("model", "broken") in labels
    }
    assert list(failures.values()) == [1.0], failures
    assert (
        value(text, "interlace_checks_total", model="revenue", severity="error", status="passed")
        == 1
    )
    assert value(text, "interlace_runs_queued") == 0
    assert value(text, "interlace_runs_running") == 0
    assert value(text, "interlace_sse_clients") == 0


def test_http_latency_is_labelled_by_route_template_not_raw_path(served: Served) -> None:
    run = served.run_ok(select=["orders"])
    assert served.call("GET", f"/api/v1/runs/{run['id']}").status == 200
    assert served.call("GET", "/api/v1/models/no_such_model").status == 404
    assert served.call("GET", "/api/v1/no/such/path").status == 404

    text = scrape(served)

    route = "/api/v1/runs/{run_id}"
    assert value(text, "interlace_http_requests_total", method="GET", route=route, status="200")
    assert value(
        text,
        "interlace_http_request_duration_seconds_count",
        method="GET",
        route="/api/v1/models/{name}",
        status="404",
    )
    assert value(
        text, "interlace_http_requests_total", method="GET", route="(unmatched)", status="404"
    )
    assert run["id"] not in text  # no series per run id
    assert "/api/v1/no/such/path" not in text


def test_each_app_has_its_own_registry() -> None:
    first, second = ServiceMetrics(), ServiceMetrics()
    first.runs.labels("success").inc()
    extra = first.counter("interlace_scheduler_fired_total", "Slots fired.", ["model"])
    extra.labels("orders").inc(2)

    assert first.counter("interlace_scheduler_fired_total", "Slots fired.", ["model"]) is extra
    assert value(first.render().decode(), "interlace_runs_total", status="success") == 1
    assert value(second.render().decode(), "interlace_runs_total", status="success") is None
    assert "interlace_scheduler_fired_total" not in second.render().decode()
    with pytest.raises(ValueError, match="already exists as a Counter"):
        first.gauge("interlace_scheduler_fired_total", "no")


def serve_secured(service: Service, public: list[str]) -> ServedApp:
    settings: SecuritySettings = load_settings(
        {"auth": {"public_paths": public}, "rate_limit": {"enabled": False}}
    )
    return ServedApp(create_app(service, routers=[], security=settings)).start()


def test_metrics_need_a_read_key_unless_listed_as_public(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = ProjectFolder.create(tmp_path_factory.mktemp("secured")).write(
        {"models/orders.sql": "SELECT 1 AS id"}
    )
    service = Service.load(folder.root, options=ServiceOptions(grace=5.0))
    reader = create_api_key(service.store, "scraper", ["read"])
    revoked = create_api_key(service.store, "old", ["read"])
    key_store(service.store).revoke_api_key(revoked.key.id, 0.0)
    http = serve_secured(service, ["/api/v1/health"])
    try:
        assert http.call("GET", "/metrics").status == 401
        assert http.call("GET", "/metrics", headers={"X-API-Key": "il_wrong"}).status == 401
        bearer = {"Authorization": f"Bearer {revoked.token}"}
        assert http.call("GET", "/metrics", headers=bearer).status == 401
        bearer = {"Authorization": f"Bearer {reader.token}"}
        reply = http.call("GET", "/metrics", headers=bearer)
        assert reply.status == 200 and "interlace_runs_total" in reply.text
    finally:
        http.close()

    service = Service.load(folder.root, options=ServiceOptions(grace=5.0))
    http = serve_secured(service, ["/api/v1/health", "/metrics"])
    try:
        reply = http.call("GET", "/metrics")
        assert reply.status == 200 and "interlace_http_requests_total" in reply.text
    finally:
        http.close()
