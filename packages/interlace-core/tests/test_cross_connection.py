"""A model reads a model that lives on another connection: the rows are streamed across."""

from __future__ import annotations

import duckdb


def test_sql_and_python_models_read_an_upstream_on_another_duckdb_connection(make_project) -> None:
    project = make_project(
        {
            "models/lake.sql": """
                -- @name: events
                -- @connection: lake
                select range as id, range % 3 as kind from range(250000)
            """,
            "models/warehouse.sql": """
                -- @name: kinds
                select kind, count(*) as n from events e group by kind
            """,
            "models/py.py": """
                from interlace import model

                @model
                def big_events(events):
                    return events.filter(events.id >= 249990).select("id")
            """,
        },
        config="""
            name: cross
            connections:
              default: {type: duckdb, path: "data/{env}.duckdb"}
              lake: {type: duckdb, path: "data/lake.duckdb"}
        """,
    )

    result = project.run()

    assert result.status == "success", [m.error for m in result.failed]
    assert project.rows("kinds", "kind") == [
        {"kind": 0, "n": 83334},
        {"kind": 1, "n": 83333},
        {"kind": 2, "n": 83333},
    ]
    assert [r["id"] for r in project.rows("big_events", "id")] == list(range(249990, 250000))
    # the copy is temporary: nothing named like it is left in the warehouse
    assert not [r for r in project.relations() if "__il_xc_" in str(r)]


# the example of docs/connections.md ("Reading a model that lives on another connection")
DOCS_EXAMPLE = {
    "models/lake.sql": """
        -- @name: events
        -- @connection: lake
        select range as id, range % 3 as kind from range(250000)
    """,
    "models/warehouse.sql": """
        -- @name: kinds
        select kind, count(*) as n from events group by kind
    """,
}
DOCS_CONFIG = """
    name: cross
    connections:
      default: {type: duckdb, path: "data/{env}.duckdb"}
      lake: {type: duckdb, path: "data/lake.duckdb"}
"""
KINDS = [{"kind": 0, "n": 83334}, {"kind": 1, "n": 83333}, {"kind": 2, "n": 83333}]


def test_selected_model_reads_its_upstream_on_another_connection_without_running_it(
    make_project,
) -> None:
    project = make_project(DOCS_EXAMPLE, config=DOCS_CONFIG)
    project.run_ok()
    with duckdb.connect(str(project.db_path())) as con:
        con.execute("DELETE FROM kinds")  # so that the rows below come from the selected run

    result = project.run_ok(["kinds"], force=True)

    assert list(result.models) == ["kinds"]
    assert result.models["kinds"].rows == 3
    assert project.rows("kinds", "kind") == KINDS


def test_selected_reader_of_a_shared_connection_still_reads_unbuilt_upstreams_from_it(
    make_project,
) -> None:
    """`kinds` (dev) reads `events` on the shared `prod` connection across connections, and
    `orders`, not built in dev, from `prod` as its fallback: both through the one engine."""
    project = make_project(
        {
            "models/m.sql": """
                -- @name: events
                -- @connection: prod
                select range as id, range % 3 as kind from range(10)
                -- @name: orders
                select 7 as id
                -- @name: kinds
                select kind, count(*) as n, (select max(id) from orders) as top_order
                from events group by kind
            """
        },
        config="""
            name: fallback_and_cross
            connections:
              default: {type: duckdb, path: "data/{env}.duckdb"}
              prod: {type: duckdb, path: "data/prod.duckdb", shared: true}
        """,
    )
    project.run_ok(env="prod")

    result = project.run_ok(["kinds"], env="dev")

    assert result.models["kinds"].message == "read from fallback 'prod': orders"
    assert project.rows("kinds", "kind") == [
        {"kind": 0, "n": 4, "top_order": 7},
        {"kind": 1, "n": 3, "top_order": 7},
        {"kind": 2, "n": 3, "top_order": 7},
    ]
    assert set(project.relations("dev")) == {"main.kinds"}
