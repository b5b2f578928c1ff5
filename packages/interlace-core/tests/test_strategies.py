"""Write strategies replace and append (SPEC §3.2, §3.3 idempotence)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import MakeProject


def test_replace_rerun_replaces_rows_and_is_idempotent(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/items.py": """
                from interlace import model

                @model(strategy="replace")
                def items():
                    return [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
            """
        }
    )
    project.run_ok()
    first = project.rows("items")
    project.run_ok(force=True)
    assert project.rows("items") == first == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
    project.write(
        {
            "models/items.py": """
                from interlace import model

                @model(strategy="replace")
                def items():
                    return [{"id": 3, "w": 1.5}]
            """
        }
    )
    project.run_ok()
    assert project.count("items") == 1
    assert project.sql("SELECT id, w FROM items") == [(3, 1.5)]


def test_replace_of_a_sql_model_is_idempotent(make_project: MakeProject) -> None:
    project = make_project({"models/nums.sql": "SELECT * FROM range(4) AS t(n)"})
    for _ in range(3):
        result = project.run_ok(force=True)
        assert result.models["nums"].rows == 4
    assert project.sql("SELECT count(*), sum(n) FROM nums") == [(4, 6)]


def test_append_rerun_adds_the_rows_again(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/log.sql": """
                -- @strategy: append
                SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, v)
            """
        }
    )
    first = project.run_ok()
    assert first.models["log"].rows == 2
    second = project.run_ok(force=True)
    assert second.models["log"].rows == 2  # rows written by this run
    assert project.sql("SELECT id, count(*) FROM log GROUP BY id ORDER BY id") == [
        (1, 2),
        (2, 2),
    ]


def test_append_adds_a_new_column_and_leaves_older_rows_null(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/log.py": """
                from interlace import model

                @model(strategy="append")
                def log():
                    return [{"id": 1, "v": "a"}]
            """
        }
    )
    project.run_ok()
    project.write(
        {
            "models/log.py": """
                from interlace import model

                @model(strategy="append")
                def log():
                    return [{"id": 2, "v": "b", "score": 9.5}]
            """
        }
    )
    project.run_ok()
    assert list(project.columns("log")) == ["id", "v", "score"]
    assert project.columns("log")["score"] == "DOUBLE"
    assert project.rows("log", order_by="id") == [
        {"id": 1, "v": "a", "score": None},
        {"id": 2, "v": "b", "score": 9.5},
    ]


def test_append_of_rows_missing_a_column_fills_it_with_null(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/log.py": """
                from interlace import model

                @model(strategy="append")
                def log():
                    return [{"id": 1, "v": "a"}]
            """
        }
    )
    project.run_ok()
    project.write(
        {
            "models/log.py": """
                from interlace import model

                @model(strategy="append")
                def log():
                    return [{"id": 2}]
            """
        }
    )
    project.run_ok()
    assert project.rows("log", order_by="id") == [{"id": 1, "v": "a"}, {"id": 2, "v": None}]


def test_strategy_none_writes_nothing(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/untouched.py": """
                from interlace import model

                @model(strategy="none")
                def untouched():
                    yield {"id": 1}
            """,
            "models/untouched_sql.sql": "-- @strategy: none\nSELECT 1 AS id",
        }
    )
    result = project.run_ok()
    assert result.models["untouched"].rows is None
    relations = project.relations()
    assert "main.untouched" not in relations
    assert "main.untouched_sql" not in relations
