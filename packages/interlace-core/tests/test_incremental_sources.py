"""Incremental models over tables that are no model (SPEC §5.1): raw data a migration, another
tool or a person loaded into the database. The stored watermark filters those reads exactly as
it filters upstream models, so ``append`` adds each row once."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from interlace.state import SQLiteStateStore

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir

RAW_PAGE_VIEWS = """
create schema raw;
create table raw.page_views (id integer, url varchar, viewed_at timestamp);
insert into raw.page_views values
    (1, '/a', '2024-01-01 10:00:00'),
    (2, '/b', '2024-01-01 11:00:00'),
    (3, '/a', '2024-01-01 12:00:00'),
    (4, '/c', '2024-01-02 09:00:00'),
    (5, '/b', '2024-01-02 10:00:00');
"""


def watermark(project: ProjectDir, model: str) -> tuple[str, str, str] | None:
    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        found = store.get_watermark("dev", model)
    finally:
        store.close()
    return None if found is None else (found.cursor_column, found.value, found.value_type)


def rows(project: ProjectDir, query: str) -> list[tuple[Any, ...]]:
    return project.sql(query)


def test_cursor_filters_unqualified_sources_and_reads_dimensions_whole(
    make_project: MakeProject,
) -> None:
    """``orders`` (unqualified, in the default schema) has the cursor column and is filtered;
    ``customers`` has none and is read whole, so a customer added later still joins."""
    project = make_project(
        {
            "models/order_facts.sql": """
                -- @strategy: append
                -- @cursor: ordered_at
                select o.id, c.name, o.ordered_at
                from orders as o join customers c on c.id = o.customer
            """
        }
    )
    project.execute(
        """
        create table customers (id integer, name varchar);
        insert into customers values (1, 'ann');
        create table orders (id integer, customer integer, ordered_at date);
        insert into orders values (10, 1, '2024-01-01'), (11, 1, '2024-01-02');
        """,
    )
    project.run_ok()
    project.execute(
        "insert into customers values (2, 'bob'); "
        "insert into orders values (12, 2, '2024-01-03'), (13, 1, '2024-01-03')",
    )
    second = project.run_ok()
    assert second.models["order_facts"].rows == 2
    assert rows(project, "SELECT * FROM order_facts ORDER BY id") == [
        (10, "ann", dt.date(2024, 1, 1)),
        (11, "ann", dt.date(2024, 1, 2)),
        (12, "bob", dt.date(2024, 1, 3)),
        (13, "ann", dt.date(2024, 1, 3)),
    ]
    assert watermark(project, "order_facts") == ("ordered_at", "2024-01-03", "DATE")


def test_backfill_window_filters_sources_that_are_no_model(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/views_by_id.sql": """
                -- @strategy: merge_by_key
                -- @primary_key: id
                -- @cursor: viewed_at
                select id, url, viewed_at from raw.page_views
            """
        }
    )
    project.execute(RAW_PAGE_VIEWS)
    project.run_ok()
    # every row is corrected at the source; only day 2 is reprocessed
    project.execute("update raw.page_views set url = url || '!'")
    window = project.run_ok(since="2024-01-02", until="2024-01-03")
    assert window.models["views_by_id"].rows == 2
    assert window.models["views_by_id"].stats == {"inserted": 0, "updated": 2}
    assert rows(project, "SELECT id, url FROM views_by_id ORDER BY id") == [
        (1, "/a"),
        (2, "/b"),
        (3, "/a"),
        (4, "/c!"),
        (5, "/b!"),
    ]
    assert watermark(project, "views_by_id") == ("viewed_at", "2024-01-02 10:00:00", "TIMESTAMP")


def test_cursor_column_in_no_table_read_is_a_clear_error(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/copies.sql": """
                -- @strategy: append
                -- @cursor: updated_at
                select * from raw.page_views
            """
        }
    )
    project.execute(RAW_PAGE_VIEWS)
    result = project.run()
    failure = result.models["copies"]
    assert failure.status == "failed"
    assert "cursor column 'updated_at' is in none of the upstream tables" in (failure.error or "")
    assert failure.location == "models/copies.sql:1"


@pytest.mark.parametrize(
    "source",
    [
        "select 1 as id, timestamp '2024-01-01' as ts",  # reads no table at all
        "select * from range(3) as r(id), (select timestamp '2024-01-01' as ts)",  # a function
    ],
)
def test_cursor_models_reading_no_describable_table_still_run(
    make_project: MakeProject, source: str
) -> None:
    project = make_project({"models/gen.sql": f"-- @strategy: append\n-- @cursor: ts\n{source}\n"})
    first = project.run_ok()
    assert first.models["gen"].status == "success"
    assert watermark(project, "gen") == ("ts", "2024-01-01 00:00:00", "TIMESTAMP")
