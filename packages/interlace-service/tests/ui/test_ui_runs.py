"""The web UI on a project made for the hard cases: a long run cancelled from the UI, a model
whose name and description hold HTML-like and odd characters, an API key revoked or expired
under a signed-in page, and the server going away and coming back."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from interlace.testing import ProjectFolder
from interlace_service.testing import SLOW_MODEL

if TYPE_CHECKING:
    from conftest import UI, Server
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.xdist_group("ui-runs")

CONFIG = """\
name: edge_cases
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
schedules:
  hourly_orders:
    select: [orders]
    every: 1h
service:
  auth:
    key_cache_ttl: 0   # every request reads the store: a revoked key is noticed at once
"""

ODD = 'crème<b>&"brûlée"#1?%'
ODD_MODEL = f"""
from interlace import model

@model(name={ODD!r}, description="<img src=x onerror=\\"window.__pwned=1\\"> & <b>not bold</b>")
def odd():
    return [{{"id": 1}}]
"""

FILES = {
    "models/orders.sql": "SELECT * FROM (VALUES (1, 10.0), (2, 20.0)) AS t(id, amount)",
    "models/slow.py": SLOW_MODEL,
    "models/odd.py": ODD_MODEL,
}


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, ui_build: Path, ui: type[UI]
) -> Iterator[Server]:
    folder = ProjectFolder.create(tmp_path_factory.mktemp("ui") / "edge", config=CONFIG)
    folder.write(FILES)
    with ui.Server(folder.root) as server:
        server.run(select=["orders", ODD])
        yield server


@pytest.fixture(scope="module")
def page(browser: Browser, served: Server, ui: type[UI]) -> Iterator[Page]:
    with ui.signed_in(browser, served, "ui-tests") as signed_in:
        yield signed_in


def test_cancel_a_long_run_and_see_it_cancelled(page: Page, served: Server, ui: type[UI]) -> None:
    (served.root / "slow.started").unlink(missing_ok=True)
    page.goto(served.url + "/#/graph")
    page.get_by_test_id("open-trigger").click()
    page.get_by_test_id("trigger-dialog").locator("input[name=select]").fill("slow")
    page.get_by_test_id("start-run").click()
    page.wait_for_url(re.compile(r"#/runs/[0-9a-f]+$"))
    ui.wait_for((served.root / "slow.started").exists, 60, "the slow model to start")
    page.locator("[data-testid=run-tasks] tr[data-task=slow][data-task-status=running]").wait_for()

    page.get_by_test_id("cancel-run").click()

    page.locator("[data-testid=run-page][data-run-status=cancelled]").wait_for(timeout=60_000)
    task = page.locator("[data-testid=run-tasks] tr[data-task=slow]")
    ui.wait_for(
        lambda: task.get_attribute("data-task-status") not in ("running", None),
        20,
        "the slow model to stop",
    )
    run_id = page.url.rsplit("/", 1)[1]
    _, run = served.call("GET", f"/api/v1/runs/{run_id}")
    assert run["status"] == "cancelled"
    page.goto(served.url + "/#/graph")  # the graph shows it too
    node = page.locator("[data-testid=dag] [data-model=slow]")
    node.wait_for()
    ui.wait_for(
        lambda: node.get_attribute("data-status") in ("cancelled", "interrupted"),
        20,
        "the cancelled node on the graph",
    )


def test_odd_model_names_render_and_link_and_descriptions_are_text(
    page: Page, served: Server
) -> None:
    page.goto(served.url + "/#/models")
    row = page.locator("[data-testid=models-table] tr").filter(has_text="crème")
    row.get_by_role("link").click()

    page.get_by_test_id("model-name").wait_for()
    assert page.get_by_test_id("model-name").inner_text() == ODD
    description = page.get_by_test_id("model-description")
    assert description.inner_text().startswith("<img src=x")
    assert description.locator("img, b").count() == 0  # shown as text, never as HTML
    assert page.evaluate("window.__pwned") is None
    shared = page.url
    page.goto(served.url + "/#/graph")
    page.goto(shared)  # the link works when opened again (shared)
    assert page.get_by_test_id("model-name").inner_text() == ODD
    page.get_by_role("link", name="Show in graph").click()
    node = page.locator("[data-testid=dag] [data-model]").filter(has_text="crème")
    node.wait_for()
    assert (node.text_content() or "").strip() == ODD


def test_a_revoked_key_sends_the_page_to_sign_in_with_a_message(
    browser: Browser, served: Server, ui: type[UI]
) -> None:
    page = ui.new_page(browser)
    ui.sign_in(page, served, served.key("ui-revoked"))
    page.goto(served.url + "/#/runs")
    page.get_by_test_id("runs-table").wait_for()

    ui.interlace(served.root, "apikey", "revoke", "ui-revoked")
    page.locator("header").get_by_role("link", name="Models").click()

    reason = page.get_by_test_id("sign-in-reason")
    reason.wait_for()
    assert "revoked" in reason.inner_text() and "Sign in again" in reason.inner_text()
    assert page.locator("[data-testid=models-table]").count() == 0
    page.context.close()


def test_an_expired_key_sends_the_page_to_sign_in(
    browser: Browser, served: Server, ui: type[UI]
) -> None:
    page = ui.new_page(browser)
    key = served.key("ui-expiring", "--expires-in", "5s")
    made = time.monotonic()  # the key ends at most 5 s from here
    ui.sign_in(page, served, key)
    ui.wait_for(lambda: time.monotonic() - made > 5.2, 10, "the key to expire")
    page.goto(served.url + "/#/runs")
    page.reload()

    page.get_by_test_id("sign-in").wait_for()
    assert "expired" in page.get_by_test_id("sign-in-reason").inner_text()
    page.context.close()


def test_the_api_down_shows_a_banner_that_retries_until_it_is_back(
    browser: Browser, served: Server, ui: type[UI]
) -> None:
    page = ui.new_page(browser)
    ui.sign_in(page, served, served.key("ui-down"))
    page.goto(served.url + "/#/runs")
    page.get_by_test_id("runs-table").wait_for()

    served.stop()
    page.locator("header").get_by_role("link", name="Models").click()
    banner = page.get_by_test_id("server-down")
    banner.wait_for()
    assert "Retrying in" in banner.inner_text()

    served.start()  # the same port: the banner's retries find it again
    banner.wait_for(state="hidden", timeout=30_000)
    page.get_by_test_id("models-table").wait_for()
    page.context.close()


def test_schedules_are_listed_paused_resumed_and_run_now(
    browser: Browser, served: Server, ui: type[UI]
) -> None:
    reader = ui.new_page(browser)  # an execute-only key may run a schedule, not pause it
    ui.sign_in(reader, served, served.key("ui-schedules-run"))
    reader.goto(served.url + "/#/scheduler")
    pause = reader.locator("tr[data-schedule=hourly_orders]").get_by_role("button", name="Pause")
    pause.wait_for()
    assert pause.is_disabled()
    reader.context.close()

    page = ui.new_page(browser)
    ui.sign_in(page, served, served.key("ui-schedules", "--scope", "write"))
    page.goto(served.url + "/#/scheduler")
    row = page.locator("[data-testid=schedules-table] tr[data-schedule=hourly_orders]")
    row.wait_for()
    assert "every 1h" in row.inner_text()

    row.get_by_role("button", name="Pause").click()
    page.locator("tr[data-schedule=hourly_orders][data-state=paused]").wait_for()
    _, listed = served.call("GET", "/api/v1/scheduler/hourly_orders")
    assert listed["state"] == "paused"
    row.get_by_role("button", name="Resume").click()
    page.locator("tr[data-schedule=hourly_orders][data-state=active]").wait_for()

    row.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r"#/runs/[0-9a-f]+"))
    page.locator("[data-testid=run-page][data-run-status=success]").wait_for(timeout=60_000)
    page.context.close()
