"""A model reads a model that lives on another connection: the rows are streamed across."""

from __future__ import annotations


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
