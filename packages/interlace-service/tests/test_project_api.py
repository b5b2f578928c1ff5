"""Reading the project over HTTP: health, project config, models, graph, quality results and
dead letters (list, retry, resolve)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from interlace_service.testing import Served

if TYPE_CHECKING:
    from conftest import ServeProject


@pytest.fixture(scope="module")
def shop(serve_project: ServeProject) -> Served:
    served = serve_project()
    served.run_ok(select=["+revenue", "customers"])
    return served


def test_health_is_public_and_says_how_busy_the_server_is(shop: Served) -> None:
    health = shop.call("GET", "/api/v1/health")

    assert health.status == 200
    assert health.json["status"] == "ok"
    assert (health.json["project"], health.json["env"]) == ("shop", "dev")
    assert health.json["taking_runs"] is True
    assert health.json["runs_queued"] == 0


def test_project_config_is_shown_with_secrets_masked(shop: Served) -> None:
    project = shop.call("GET", "/api/v1/project").json

    assert project["name"] == "shop" and project["env"] == "dev"
    assert {"name": "archive", "type": "duckdb"} in project["connections"]
    attachment = project["config"]["connections"]["archive"]["attach"][0]
    assert attachment["password"] == "****"
    assert "s3cret-pw" not in str(project)
    assert project["config_files"] == ["config.yaml"]


def test_models_are_listed_and_filtered(shop: Served) -> None:
    everything = shop.call("GET", "/api/v1/models").json
    sales = shop.call("GET", "/api/v1/models?tag=sales").json
    python = shop.call("GET", "/api/v1/models?kind=python&search=crm").json

    assert everything["total"] == 6
    assert [m["name"] for m in sales["items"]] == ["orders", "revenue"]
    assert [m["name"] for m in python["items"]] == ["customers"]
    orders = sales["items"][0]
    assert orders["schema"] == "main" and orders["dependents"] == ["revenue"]
    assert orders["description"] == "One row per order."


def test_model_detail_runs_stats_columns_and_current_state(shop: Served) -> None:
    detail = shop.call("GET", "/api/v1/models/revenue").json
    runs = shop.call("GET", "/api/v1/models/revenue/runs").json["items"]
    stats = shop.call("GET", "/api/v1/models/revenue/stats").json
    columns = shop.call("GET", "/api/v1/models/customers/columns").json
    current = shop.call("GET", "/api/v1/models/revenue/current").json

    assert detail["depends_on"] == ["orders"] and "sum(amount)" in detail["sql"]
    assert {(c["check_type"], c["severity"]) for c in detail["checks"]} == {
        ("not_null", "error"),
        ("row_count", "warn"),
    }
    assert runs[0]["status"] == "success" and runs[0]["rows"] == 1
    assert stats["runs"] >= 1 and stats["succeeded"] >= 1 and stats["last_rows"] == 1
    assert columns["declared"] == [
        {"name": "id", "type": "int64", "description": None},
        {"name": "name", "type": "string", "description": None},
    ]
    assert [c["name"] for c in columns["recorded"]] == ["id", "name"]
    assert current["changed"] is False
    assert current["fingerprint"] == current["recorded_fingerprint"]
    assert current["schema_version"] == 1


def test_schema_history_and_diff(shop: Served) -> None:
    shop.folder.write({"models/orders.sql": "SELECT 1 AS id, 5.0 AS amount, 'eu' AS region"})
    shop.service.reload_if_changed()
    shop.run_ok(select=["orders"])

    history = shop.call("GET", "/api/v1/models/orders/schema").json
    diff = shop.call("GET", "/api/v1/models/orders/schema/diff").json
    same_env = shop.call("GET", "/api/v1/models/orders/schema/diff?env1=dev&env2=dev").json
    missing = shop.call("GET", "/api/v1/models/orders/schema/diff?from=7")

    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert diff["from"] == "dev:1" and diff["to"] == "dev:2"
    assert diff["changes"] == [
        {"kind": "added", "column": "region", "old_type": None, "new_type": "VARCHAR"}
    ]
    assert same_env["changes"] == []
    assert missing.status == 404 and "no schema version 7" in missing.json["error"]["message"]


def test_unknown_model_is_a_404_with_a_suggestion(shop: Served) -> None:
    reply = shop.call("GET", "/api/v1/models/revenu/stats")

    assert reply.status == 404
    assert reply.json["error"]["message"] == (
        "no model 'revenu' in project shop (hint: did you mean revenue?)"
    )


def test_graph_and_its_validation(shop: Served) -> None:
    graph = shop.call("GET", "/api/v1/graph").json
    valid = shop.call("POST", "/api/v1/graph/validate", json={"select": ["+revenue"]}).json

    assert {"source": "orders", "target": "revenue"} in graph["edges"]
    assert {"source": "slow", "target": "slow_count"} in graph["edges"]
    assert valid == {"valid": True, "problems": [], "models": ["orders", "revenue"]}
    shop.folder.write(
        {"models/loop.sql": "SELECT * FROM loop2", "models/loop2.sql": "SELECT * FROM loop"}
    )
    try:
        broken = shop.call("POST", "/api/v1/graph/validate").json
    finally:
        shop.folder.remove("models/loop.sql")
        shop.folder.remove("models/loop2.sql")
    assert broken["valid"] is False
    assert "cycle" in broken["problems"][0]["message"]
    assert shop.call("GET", "/api/v1/models").json["total"] == 6  # the served copy is unchanged


def test_quality_results_of_runs(shop: Served) -> None:
    results = shop.call("GET", "/api/v1/quality?model=revenue").json["items"]
    warnings = shop.call("GET", "/api/v1/quality?model=revenue&status=failed").json["items"]

    assert {(r["check_type"], r["status"]) for r in results} >= {
        ("not_null", "passed"),
        ("row_count", "failed"),
    }
    assert warnings and all(r["severity"] == "warn" for r in warnings)


def test_dead_letters_are_listed_retried_and_resolved(shop: Served) -> None:
    (shop.root / "broken").write_text("")
    failed = shop.wait_run(shop.trigger(select=["fragile"])["id"])
    shop.wait_run(shop.trigger(select=["fragile"])["id"])
    assert failed["status"] == "failed"

    letters = shop.call("GET", "/api/v1/dead-letters").json["items"]
    assert [(d["model"], d["status"]) for d in letters] == [("fragile", "open")] * 2
    newest, oldest = letters
    shown = shop.call("GET", f"/api/v1/dead-letters/{oldest['id']}").json
    assert "upstream API is down" in shown["error"] and shown["traceback"]

    (shop.root / "broken").unlink()
    retry = shop.call("POST", f"/api/v1/dead-letters/{oldest['id']}/retry")
    assert retry.status == 202 and retry.json["models"] == ["fragile"]
    assert retry.json["flags"]["force"] is True
    assert shop.wait_run(retry.json["id"])["status"] == "success"
    retried = shop.call("GET", f"/api/v1/dead-letters/{oldest['id']}").json
    assert retried["status"] == "retried" and retry.json["id"] in retried["resolution"]

    resolved = shop.call(
        "POST", f"/api/v1/dead-letters/{newest['id']}/resolve", json={"note": "fixed upstream"}
    )
    assert resolved.status == 200 and resolved.json["status"] == "resolved"
    assert resolved.json["resolution"] == "fixed upstream"
    assert shop.call("GET", "/api/v1/dead-letters").json["items"] == []
    again = shop.call("POST", f"/api/v1/dead-letters/{newest['id']}/retry")
    assert again.status == 409 and "is resolved already" in again.json["error"]["message"]
    assert shop.call("GET", "/api/v1/dead-letters/999999").status == 404
    assert shop.call("GET", "/api/v1/dead-letters/abc").status == 422
