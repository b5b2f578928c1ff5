"""`interlace lineage`, `interlace plan`, state selectors and `interlace docs` (SPEC §13)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from interlace.testing.prerequisites import CHROMIUM_HINT, find_chromium, require

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import Folder

MODELS = {
    "models/customers.sql": """
        -- @cache: {strategy: if_exists}
        -- @fields: {id: {type: int32, description: The customer id, checks: [not_null]}}
        select 10 as id, 'ann' as name union all select 20, 'bob'
    """,
    "models/orders.sql": """
        -- @cache: {strategy: if_exists}
        -- @primary_key: id
        -- @description: One row per <b>order</b>.
        select * from (values (1, 10, 5.0), (2, 20, 7.5)) as t(id, customer_id, amount)
    """,
    "models/revenue.sql": """
        with o as (select o.*, c.name from orders o join customers c on c.id = o.customer_id)
        select name, sum(amount) as total, rank() over (order by sum(amount)) as pos
        from o group by name
    """,
    "models/enriched.py": '''
        from interlace import model


        @model(fields={"total": {"type": "double", "description": "Revenue of <script>x</script>"}})
        def enriched(revenue):
            """Revenue, doubled."""
            return revenue.mutate(doubled=revenue.total * 2).select("name", "doubled")
    ''',
}


def built(project: Folder) -> Folder:
    project.write(MODELS)
    result = project.interlace("run")
    assert result.code == 0, result
    return project


def test_lineage_tree_json_and_dot_follow_columns_through_ctes_joins_and_python(
    project: Folder,
) -> None:
    built(project)

    tree = project.interlace("lineage", "revenue", "--column", "total")
    as_json = project.interlace("lineage", "revenue", "--column", "name", "--format", "json")
    dot = project.interlace("lineage", "enriched", "--format", "dot")

    assert tree.code == 0, tree
    assert "orders.amount" in tree.stdout and "enriched.doubled" in tree.stdout
    data = json.loads(as_json.stdout)
    [name] = data["columns"]
    assert {"model": "customers", "column": "name", "depth": 1} in name["upstream"]
    assert {"model": "enriched", "column": "name", "from": "name", "depth": 1} in name["downstream"]
    assert '"revenue.total" -> "enriched.doubled";' in dot.stdout


def test_lineage_of_a_column_that_does_not_exist_lists_the_columns(project: Folder) -> None:
    built(project)

    result = project.interlace("lineage", "revenue", "--column", "nope")

    assert result.code == 1
    assert "has no column 'nope'" in result.stderr
    assert "its columns: name, total, pos" in result.stderr
    assert not result.has_traceback


def test_plan_json_and_fail_on_breaking(project: Folder) -> None:
    built(project)
    project.write(
        {
            "models/revenue.sql": """
                with o as (select o.*, c.name from orders o join customers c on c.id = o.customer_id)
                select name, rank() over (order by sum(amount)) as pos from o group by name
            """
        }
    )

    as_json = project.interlace("plan", "--format", "json")
    table = project.interlace("plan", "--fail-on-breaking")

    data = json.loads(as_json.stdout)
    revenue = next(m for m in data["models"] if m["model"] == "revenue")
    assert revenue["action"] == "run" and revenue["reason_kind"] == "code_changed"
    [breaking] = revenue["breaking"]
    assert breaking["kind"] == "removed_column"
    assert {"model": "enriched", "column": "doubled"} in breaking["affected"]
    assert table.code == 2
    assert "breaks enriched.doubled" in table.stdout
    assert as_json.code == 0


def test_plan_says_which_change_the_schema_mode_will_refuse_and_the_run_agrees(
    project: Folder,
) -> None:
    built(project)
    project.write(
        {
            "models/revenue.sql": MODELS["models/revenue.sql"].replace(
                "sum(amount) as total", "string_agg(name, ',') as total"
            )
        }
    )

    as_json = project.interlace("plan", "revenue", "--format", "json")
    table = project.interlace("plan", "revenue", "--fail-on-breaking")
    run = project.interlace("run", "revenue")
    rebuilt = project.interlace("plan", "revenue", "--full-refresh", "--format", "json")

    [revenue] = json.loads(as_json.stdout)["models"]
    assert revenue["schema_changes"][0]["kind"] == "type_changed"
    assert "unsafe type change(s): total" in revenue["schema_error"]
    assert "schema_mode safe" in revenue["schema_error"]
    assert table.code == 2
    assert "will fail revenue" in table.stdout
    assert "refused by a schema_mode" in table.stderr
    assert run.code != 0 and "unsafe type change" in run.stdout + run.stderr
    assert json.loads(rebuilt.stdout)["models"][0]["schema_error"] is None


def test_info_shows_column_descriptions_and_checks(project: Folder) -> None:
    project.write(MODELS)

    result = project.interlace("info", "customers")

    assert result.code == 0, result
    assert "The customer id" in result.stdout
    assert "not_null" in result.stdout


def test_state_modified_builds_only_what_changed_and_reads_the_rest_from_prod(
    project: Folder,
) -> None:
    project.write(
        {
            "config.yaml": """
                name: pr_project
                connections:
                  default:
                    type: duckdb
                    path: data/{env}.duckdb
                  prod:
                    type: duckdb
                    path: data/prod.duckdb
                    shared: true
                    access: read
            """,
            **MODELS,
        }
    )
    assert project.interlace("run", "--env", "prod").code == 0
    project.write(
        {
            "models/revenue.sql": MODELS["models/revenue.sql"].replace(
                "sum(amount) as total", "sum(amount) * 1 as total"
            )
        }
    )

    modified = project.interlace("run", "state:modified", "--state-env", "prod", "--env", "pr")
    downstream = project.interlace("run", "state:modified+", "--state-env", "prod", "--env", "pr2")
    unchanged = project.interlace("run", "state:new", "--state-env", "prod", "--env", "pr3")
    no_env = project.interlace("run", "state:modified")

    assert modified.code == 0, modified
    assert "read from fallback 'prod'" in modified.stdout
    assert "1 succeeded" in modified.stdout
    assert "2 succeeded" in downstream.stdout
    assert "nothing to run" in unchanged.stdout
    assert no_env.code == 1 and "--state-env" in no_env.stderr
    import duckdb

    db = duckdb.connect(str(project.root / "data" / "pr.duckdb"), read_only=True)
    try:
        found = db.execute("select table_name from information_schema.tables").fetchall()
        tables = {row[0] for row in found}
    finally:
        db.close()
    assert tables == {"revenue"}


@pytest.fixture
def chromium_page():  # type: ignore[no-untyped-def]
    executable = find_chromium()
    require(executable is not None, "chromium", CHROMIUM_HINT)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_docs_site_opens_from_disk_offline_searchable_with_escaped_text(
    project: Folder,
    tmp_path: Path,
    chromium_page,  # type: ignore[no-untyped-def]
) -> None:
    built(project)
    out = tmp_path / "site"

    result = project.interlace("docs", "build", "--out", str(out))
    page = chromium_page
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto((out / "index.html").as_uri() + "#orders")

    assert result.code == 0, result
    assert page.locator("main h1").inner_text() == "orders"
    assert "One row per <b>order</b>." in page.locator("main").inner_text()
    assert page.locator("main b").count() == 0  # the description is text, not HTML
    assert page.locator("#table-lineage g[data-node='revenue']").count() == 1
    page.fill("#search", "customer id")
    assert page.locator("#models a").all_inner_texts() == ["customers"]
    page.click("#models a")
    assert "The customer id" in page.locator("main").inner_text()
    text = page.locator("main").inner_text()
    assert "not_null(id)\tpassed" in text  # the check and its last result
    assert "1\tid INTEGER, name VARCHAR\tcreated" in text  # the schema history
    page.fill("#search", "")
    page.click("#models a[data-model='enriched']")
    assert "Revenue, doubled." in page.locator("main").inner_text()
    assert page.locator("#column-lineage").count() == 1
    assert all(url.startswith("file://") for url in requests)
