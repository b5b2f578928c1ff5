"""The web UI on the quickstart project (21 models: 20 that runs build and the page_views
stream), served by a real ``interlace serve``: sign in, the DAG, a run followed live, a run triggered from the UI, the model browser, a model's
schema history with a diff, run history filters and a failing quality check's sample rows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import UI, Server
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.xdist_group("ui-quickstart")

# the quickstart's stream: a source node (ingestion fills it), never built by a run
STREAM = "page_views"

# a warn-severity check that fails on the quickstart's data (cancelled and returned orders)
CHECKS = """
quality:
  checks:
    stg_orders:
      - {accepted_values: {column: status, values: [completed]}, severity: warn}
"""


@pytest.fixture(scope="module")
def quickstart(
    tmp_path_factory: pytest.TempPathFactory, ui_build: Path, ui: type[UI]
) -> Iterator[Server]:
    root = ui.quickstart(tmp_path_factory, "ui")
    with (root / "config.yaml").open("a") as config:
        config.write(CHECKS)
    with ui.Server(root) as server:
        yield server


@pytest.fixture(scope="module")
def page(browser: Browser, quickstart: Server, ui: type[UI]) -> Iterator[Page]:
    with ui.signed_in(browser, quickstart, "ui-tests") as signed_in:
        yield signed_in


def statuses(page: Page) -> dict[str, str]:
    return dict(
        page.eval_on_selector_all(
            "[data-testid=dag] [data-model]",
            "nodes => nodes.map(n => [n.dataset.model, n.dataset.status])",
        )
    )


def test_no_page_or_data_without_signing_in_and_a_wrong_key_says_what_to_do(
    browser: Browser, quickstart: Server, ui: type[UI]
) -> None:
    page = ui.new_page(browser)
    page.goto(quickstart.url + "/#/models/stg_orders")

    page.get_by_test_id("sign-in").wait_for()
    assert page.locator("[data-testid=model-page]").count() == 0
    page.locator("#api-key").fill("il_nope_nope")
    page.get_by_role("button", name="Sign in").click()
    error = page.get_by_test_id("sign-in-error")
    error.wait_for()
    assert "interlace apikey create" in error.inner_text()

    page.locator("#api-key").fill(quickstart.key("ui-deep-link"))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("model-name").wait_for()  # the shared link opens after signing in
    assert page.get_by_test_id("model-name").inner_text() == "stg_orders"
    page.context.close()


def test_the_dag_shows_the_21_models_and_each_turns_green_live_during_a_run(
    page: Page, quickstart: Server, shots: Path, ui: type[UI]
) -> None:
    page.goto(quickstart.url + "/#/graph")
    page.locator("[data-testid=dag] [data-model]").first.wait_for()

    assert page.get_by_test_id("graph-count").inner_text().startswith("21 models")
    assert len(statuses(page)) == 21
    page.locator("[data-testid=live-indicator][data-connected=true]").wait_for()
    page.evaluate(
        """() => {
            window.__seen = {};
            const record = (node) => {
                const name = node.dataset.model;
                (window.__seen[name] ??= []).push(node.dataset.status);
            };
            document.querySelectorAll('[data-testid=dag] [data-model]').forEach(record);
            new MutationObserver((changes) => changes.forEach((c) => record(c.target)))
                .observe(document.querySelector('[data-testid=dag]'),
                         {subtree: true, attributes: true, attributeFilter: ['data-status']});
        }"""
    )

    run = quickstart.run(force=True)  # another client (as `interlace run` would) starts it

    assert run["status"] == "success" and run["succeeded"] == 20
    built = lambda: {n: s for n, s in statuses(page).items() if n != STREAM}  # noqa: E731
    ui.wait_for(lambda: set(built().values()) == {"success"}, 30, "all 20 models to turn green")
    seen: dict[str, list[str]] = page.evaluate("window.__seen")
    assert len(seen) == 21
    # the page changed by itself (no reload): every model was shown in another state first
    models = {name: states for name, states in seen.items() if name != STREAM}
    assert all(len(states) >= 2 and states[-1] == "success" for states in models.values()), seen
    assert statuses(page)[STREAM] == "unchanged"  # a source: the run passes over it
    page.get_by_text("latest run").wait_for()
    page.screenshot(path=str(shots / "dag.png"))


def test_clicking_a_node_highlights_its_lineage_and_opens_the_model(
    page: Page, quickstart: Server, ui: type[UI]
) -> None:
    page.goto(quickstart.url + "/#/graph")
    node = page.locator("[data-testid=dag] [data-model=customer_lifetime_value]")
    node.click()

    assert "focus=customer_lifetime_value" in page.url  # the selection is in the link
    dimmed = page.eval_on_selector_all(
        "[data-testid=dag] [data-model]",
        "nodes => nodes.filter(n => n.getAttribute('opacity') !== '1').map(n => n.dataset.model)",
    )
    assert "stg_customers" not in dimmed and "orders" not in dimmed  # upstream stays lit
    assert "daily_revenue" in dimmed  # unrelated models are dimmed
    page.get_by_test_id("open-model").click()
    page.get_by_test_id("model-name").wait_for()
    assert page.url.endswith("#/models/customer_lifetime_value")

    page.goto(quickstart.url + "/#/graph")
    page.locator("[data-testid=dag] [data-model=stg_orders]").focus()
    page.keyboard.press("Enter")  # keyboard: Tab to a node, Enter opens it
    page.get_by_test_id("model-name").wait_for()
    assert page.get_by_test_id("model-name").inner_text() == "stg_orders"


def test_trigger_a_run_from_the_ui_with_a_selection_and_force(
    page: Page, quickstart: Server, ui: type[UI]
) -> None:
    page.goto(quickstart.url + "/#/graph")
    page.get_by_test_id("open-trigger").click()
    dialog = page.get_by_test_id("trigger-dialog")
    dialog.locator("input[name=select]").fill("+stg_customers")
    dialog.locator("input[name=force]").check()
    dialog.get_by_test_id("start-run").click()

    page.wait_for_url(re.compile(r"#/runs/[0-9a-f]+$"))
    page.locator("[data-testid=run-page][data-run-status=success]").wait_for(timeout=60_000)
    tasks = page.locator("[data-testid=run-tasks] tr[data-task]")
    ui.wait_for(lambda: tasks.count() == 2, 10, "the run's two models")
    assert {t.get_attribute("data-task") for t in tasks.all()} == {"customers", "stg_customers"}
    run_id = page.url.rsplit("/", 1)[1]
    _, run = quickstart.call("GET", f"/api/v1/runs/{run_id}")
    assert run["selection"] == ["+stg_customers"] and run["flags"]["force"] is True


def test_a_bad_selection_is_explained_in_the_dialog(
    page: Page, quickstart: Server, ui: type[UI]
) -> None:
    page.goto(quickstart.url + "/#/runs")
    page.keyboard.press("t")
    dialog = page.get_by_test_id("trigger-dialog")
    dialog.locator("input[name=select]").fill("no_such_model")
    dialog.get_by_test_id("start-run").click()

    error = page.get_by_test_id("trigger-error")
    error.wait_for()
    assert "no_such_model" in error.inner_text()
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")


def test_model_browser_searches_and_filters_with_the_state_in_the_url(
    page: Page, quickstart: Server, ui: type[UI]
) -> None:
    page.goto(quickstart.url + "/#/graph")
    page.keyboard.press("m")
    page.get_by_test_id("models-table").wait_for()
    assert page.get_by_test_id("models-count").inner_text() == "21 of 21 models"

    page.locator("[data-filter=tag]").select_option("finance")
    ui.wait_for(lambda: "tag=finance" in page.url, 5, "the tag in the URL")
    finance = page.locator("[data-testid=models-table] tr[data-model]")
    names = {row.get_attribute("data-model") for row in finance.all()}
    assert "customer_lifetime_value" in names and "stg_orders" not in names

    page.goto(quickstart.url + "/#/models?schema=staging&search=orders")
    rows = page.locator("[data-testid=models-table] tr[data-model]")
    rows.first.wait_for()
    assert {r.get_attribute("data-model") for r in rows.all()} == {"stg_orders"}

    page.goto(quickstart.url + "/#/models?kind=python&connection=nothing")
    page.get_by_test_id("empty-state").wait_for()
    assert "Clear filters" in page.get_by_test_id("empty-state").inner_text()


def test_model_detail_shows_config_source_columns_and_its_schema_history_diff(
    page: Page, quickstart: Server, ui: type[UI]
) -> None:
    quickstart.run(select=["+stg_countries"])
    sql = quickstart.root / "models" / "staging" / "reference.sql"
    original = sql.read_text()
    sql.write_text(original.replace("region, currency", "region, currency, 1 as rank"))
    try:
        quickstart.run(select=["+stg_countries"], reload=True)  # schema version 2: a new column
    finally:
        sql.write_text(original)

    page.goto(quickstart.url + "/#/models/stg_countries")
    page.get_by_test_id("model-config").wait_for()
    assert "replace" in page.get_by_test_id("model-config").inner_text()
    page.locator("[data-tab=source]").click()
    assert "from raw.countries" in page.get_by_test_id("model-source").inner_text()
    assert "tab=source" in page.url
    page.locator("[data-tab=columns]").click()
    assert "country_code" in page.get_by_test_id("columns-table").inner_text()

    page.locator("[data-tab=schema]").click()
    page.locator("[data-testid=schema-versions] [data-version='2']").wait_for()
    added = page.locator("[data-testid=schema-diff] tr[data-change=added]")
    added.wait_for()
    assert "rank" in added.inner_text()

    page.goto(quickstart.url + "/#/models/orders_enriched?tab=source")  # a Python model
    assert "def " in page.get_by_test_id("model-source").inner_text()


def test_run_history_filters_and_pages(page: Page, quickstart: Server, ui: type[UI]) -> None:
    quickstart.run(select=["countries"])
    page.goto(quickstart.url + "/#/runs")
    page.get_by_test_id("runs-table").wait_for()
    everything = page.locator("[data-testid=runs-table] tr[data-run]").count()

    page.locator("[data-filter=model]").fill("stg_orders")
    page.locator("[data-filter=model]").press("Enter")
    ui.wait_for(lambda: "model=stg_orders" in page.url, 5, "the filter in the URL")
    ui.wait_for(
        lambda: page.locator("[data-testid=runs-table] tr[data-run]").count() < everything,
        10,
        "the filtered history",
    )
    for row in page.locator("[data-testid=runs-table] tr[data-run]").all():
        _, tasks = quickstart.call("GET", f"/api/v1/runs/{row.get_attribute('data-run')}/tasks")
        assert "stg_orders" in {t["model"] for t in tasks["items"]}

    page.goto(quickstart.url + "/#/runs?status=failed")
    page.get_by_test_id("empty-state").wait_for()
    assert "No run matches" in page.get_by_test_id("empty-state").inner_text()
    page.goto(quickstart.url + "/#/runs?status=success")
    page.get_by_test_id("runs-paging").wait_for()
    assert " of " in page.get_by_test_id("runs-paging").inner_text()


def test_a_failing_quality_check_shows_its_sample_rows(
    page: Page, quickstart: Server, ui: type[UI]
) -> None:
    quickstart.run(select=["+stg_orders"])
    page.goto(quickstart.url + "/#/models/stg_orders?tab=quality")
    failed = page.locator("[data-testid=quality-list] [data-check-status=failed]").first
    failed.wait_for()

    assert "accepted_values" in failed.inner_text()
    sample = failed.get_by_test_id("check-sample")
    assert "status" in (sample.locator("thead").text_content() or "")
    values = sample.locator("tbody").inner_text()
    assert values.strip() and "completed" not in values.split()


def test_theme_toggle_and_a_narrow_window(
    browser: Browser, quickstart: Server, ui: type[UI]
) -> None:
    page = ui.new_page(browser, width=390, height=800)
    ui.sign_in(page, quickstart, quickstart.key("ui-narrow"))
    page.goto(quickstart.url + "/#/runs")
    page.get_by_test_id("runs-table").wait_for()

    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1  # wide tables scroll inside their card, not the page
    dark = page.evaluate("document.documentElement.classList.contains('dark')")
    page.get_by_role("button", name=re.compile("Switch to .* theme")).click()
    assert page.evaluate("document.documentElement.classList.contains('dark')") is not dark
    page.reload()  # the choice is kept
    page.get_by_test_id("runs-table").wait_for()
    assert page.evaluate("document.documentElement.classList.contains('dark')") is not dark
    page.context.close()
