"""``--reload``: the server picks up changed model files; a broken change keeps the last
project that loaded and says why."""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace_service.testing import wait_for

if TYPE_CHECKING:
    from conftest import ServeProject


def test_changed_model_files_are_picked_up_and_a_broken_change_is_reported(
    serve_project: ServeProject,
) -> None:
    served = serve_project({"models/orders.sql": "SELECT 1 AS id"}, reload=True)

    def names() -> list[str]:
        return [m["name"] for m in served.call("GET", "/api/v1/models").json["items"]]

    served.folder.write({"models/refunds.sql": "SELECT id FROM orders"})
    wait_for(lambda: names() == ["orders", "refunds"], 30, "refunds to appear")
    assert served.run_ok(select=["+refunds"])["models"] == ["orders", "refunds"]

    served.folder.write({"models/broken.py": "def broken(:\n"})
    health = wait_for(
        lambda: (h := served.call("GET", "/api/v1/health").json)["status"] == "degraded" and h,
        30,
        "the failed reload to show",
    )
    assert health["status"] == "degraded"
    assert names() == ["orders", "refunds"]  # still the last project that loaded
    load_error = served.call("GET", "/api/v1/project").json["load_error"]
    assert "models/broken.py:1" in load_error and "syntax error" in load_error

    served.folder.remove("models/broken.py")
    served.folder.write({"models/refunds.sql": "SELECT id, 2 AS amount FROM orders"})
    wait_for(lambda: served.call("GET", "/api/v1/health").json["status"] == "ok", 30, "recovery")
    assert served.call("GET", "/api/v1/project").json["load_error"] is None
