"""The column lineage explorer of the web UI on the quickstart (run once, so every SQL model's
columns are known), served by a real ``interlace serve``: a column's upstream columns as a graph
and a list, clicking through to another column, the direction and model pickers, the link from
a model's columns, and a model whose lineage is unknown saying why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import UI, Server
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.xdist_group("ui-lineage")


@pytest.fixture(scope="module")
def quickstart(
    tmp_path_factory: pytest.TempPathFactory, ui_build: Path, ui: type[UI]
) -> Iterator[Server]:
    root = ui.quickstart(tmp_path_factory, "ui-lineage")
    ui.interlace(root, "run")  # the tables' columns: stg_orders' `select *`-style reads resolve
    with ui.Server(root) as server:
        yield server


@pytest.fixture(scope="module")
def page(browser: Browser, quickstart: Server, ui: type[UI]) -> Iterator[Page]:
    with ui.signed_in(browser, quickstart, "ui-lineage") as signed_in:
        yield signed_in


def listed(page: Page, testid: str) -> list[str]:
    return page.eval_on_selector_all(
        f"[data-testid={testid}] tbody tr", "rows => rows.map(r => r.dataset.column)"
    )


def nodes(page: Page) -> dict[str, str]:
    return dict(
        page.eval_on_selector_all(
            "[data-testid=lineage-graph] [data-column-node]",
            "nodes => nodes.map(n => [n.dataset.columnNode, n.dataset.role])",
        )
    )


def test_a_columns_upstream_shows_as_a_graph_and_a_list_and_a_click_follows_it(
    page: Page, quickstart: Server, ui: type[UI], shots: Path
) -> None:
    page.goto(quickstart.url + "/#/lineage/customer_lifetime_value?column=customer_name")
    page.get_by_test_id("lineage-upstream").wait_for()
    page.locator("[data-testid=lineage-graph] [data-column-node]").first.wait_for()

    upstream = listed(page, "lineage-upstream")
    assert upstream[:2] == ["stg_customers.first_name", "stg_customers.last_name"]
    assert {"customers.first_name", "customers.last_name"} <= set(upstream)
    graph = nodes(page)
    assert graph["customer_lifetime_value.customer_name"] == "focus"
    assert graph["stg_customers.first_name"] == "upstream"
    assert graph["customers.last_name"] == "upstream"
    assert page.get_by_test_id("lineage-downstream-empty").is_visible()
    assert page.get_by_test_id("lineage-column").input_value() == "customer_name"
    page.screenshot(path=str(shots / "lineage.png"))

    # a column in the graph is a link to its own lineage (the address says which)
    page.locator("[data-column-node='stg_customers.first_name']").click()
    ui.wait_for(
        lambda: page.url.endswith("#/lineage/stg_customers?column=first_name"), 10, "the link"
    )
    ui.wait_for(
        lambda: "customer_lifetime_value.customer_name" in listed(page, "lineage-downstream"),
        20,
        "stg_customers.first_name's readers",
    )
    ui.wait_for(
        lambda: listed(page, "lineage-upstream") == ["customers.first_name"],
        20,
        "stg_customers.first_name's sources",
    )
    # the lists come with the data, the graph after ELK's layout in its worker
    ui.wait_for(
        lambda: nodes(page).get("stg_customers.first_name") == "focus",
        20,
        "the graph of stg_customers.first_name",
    )

    page.go_back()  # the history has each column visited
    ui.wait_for(
        lambda: listed(page, "lineage-upstream")[:1] == ["stg_customers.first_name"],
        20,
        "customer_name's lineage again",
    )


def test_direction_and_pickers_are_kept_in_the_address(
    page: Page, quickstart: Server, ui: type[UI]
) -> None:
    page.goto(quickstart.url + "/#/lineage/stg_orders?column=status")
    page.get_by_test_id("lineage-downstream").wait_for()
    page.locator("[data-direction=upstream]").click()
    ui.wait_for(lambda: "direction=upstream" in page.url, 10, "the direction in the link")
    page.get_by_test_id("lineage-upstream").wait_for()
    assert page.get_by_test_id("lineage-downstream").count() == 0
    # the list's rows come when the column's lineage has been read, after the table is drawn
    ui.wait_for(
        lambda: listed(page, "lineage-upstream") == ["orders.status"], 20, "status's sources"
    )

    page.get_by_test_id("lineage-model").select_option("daily_revenue")
    ui.wait_for(
        lambda: page.url.endswith("#/lineage/daily_revenue?direction=upstream"), 10, "the model"
    )
    page.get_by_test_id("lineage-columns").wait_for()  # every column of the model
    ui.wait_for(
        lambda: "net_revenue" in listed(page, "lineage-columns"), 20, "daily_revenue's columns"
    )
    page.get_by_test_id("lineage-column").select_option("net_revenue")
    ui.wait_for(lambda: "column=net_revenue" in page.url, 10, "the column in the link")
    page.get_by_test_id("lineage-upstream").wait_for()


def test_each_column_of_a_model_links_to_its_lineage_and_unknown_lineage_says_why(
    page: Page, quickstart: Server, ui: type[UI]
) -> None:
    page.goto(quickstart.url + "/#/models/customer_lifetime_value?tab=columns")
    page.locator(
        "[data-testid=columns-table] tr[data-column=segment] a", has_text="lineage"
    ).click()
    page.get_by_test_id("lineage-upstream").wait_for()
    assert page.url.endswith("#/lineage/customer_lifetime_value?column=segment")
    ui.wait_for(
        lambda: "orders_enriched.net_amount" in listed(page, "lineage-upstream"),
        20,
        "segment's sources",
    )

    # a Python model that returns no ibis expression and declares no sources
    page.goto(quickstart.url + "/#/lineage/customers")
    status = page.get_by_test_id("lineage-status")
    status.wait_for()
    assert status.get_attribute("data-status") == "unknown"
    assert "Python model" in page.get_by_test_id("lineage-reason").inner_text()
    # what reads its columns is still known
    page.get_by_test_id("lineage-columns").wait_for()
    # the graph comes after ELK's layout in its worker
    ui.wait_for(
        lambda: nodes(page).get("stg_customers.first_name") == "downstream",
        20,
        "the graph of customers' readers",
    )

    # keyboard: `l` opens the explorer
    page.goto(quickstart.url + "/#/graph")
    page.locator("[data-testid=dag] [data-model]").first.wait_for()
    page.keyboard.press("l")
    page.get_by_test_id("lineage-page").wait_for()
    assert page.url.endswith("#/lineage")
