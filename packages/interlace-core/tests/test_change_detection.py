"""Change detection: a model runs only when something it depends on changed (SPEC §5.3)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir
    from interlace.results import RunResult

SOURCE_PY = """
import json
from pathlib import Path

from interlace import model

@model{options}
def source():
    return json.loads((Path(__file__).parent.parent / "input.json").read_text())
"""

PIPELINE = {
    "models/source.py": SOURCE_PY.format(options=""),
    "models/totals.sql": """
        -- @description: totals per group
        SELECT g, sum(n) AS total
        FROM source
        GROUP BY g
    """,
    "models/report.sql": "SELECT g, total * 2 AS doubled FROM totals",
    "models/report_view.sql": """
        -- @materialize: view
        SELECT * FROM totals
    """,
    "models/through_view.sql": "SELECT count(*) AS groups FROM report_view",
}

ROWS = [{"g": "a", "n": 1}, {"g": "a", "n": 2}, {"g": "b", "n": 5}]


def pipeline(make_project: MakeProject, source_options: str = "") -> ProjectDir:
    files = dict(PIPELINE)
    files["models/source.py"] = SOURCE_PY.format(options=source_options)
    project = make_project(files)
    project.write({"input.json": json.dumps(ROWS)})
    return project


def statuses(result: RunResult) -> dict[str, str]:
    return {name: r.status for name, r in result.models.items()}


def reasons(result: RunResult) -> dict[str, str | None]:
    return {name: r.skip_reason for name, r in result.models.items() if r.status == "skipped"}


def test_first_run_builds_everything_and_an_identical_second_run_only_runs_the_root(
    make_project: MakeProject,
) -> None:
    project = pipeline(make_project)
    first = project.run_ok()
    assert set(statuses(first).values()) == {"success"}

    second = project.run_ok()
    assert statuses(second) == {
        "source": "success",
        "totals": "skipped",
        "report": "skipped",
        "report_view": "skipped",
        "through_view": "skipped",
    }
    assert second.models["source"].message == "no data change"
    assert set(reasons(second).values()) == {"unchanged since the last run"}
    assert {r.skip_kind for r in second.skipped} == {"unchanged"}
    assert project.sql("SELECT * FROM report ORDER BY g") == [("a", 6), ("b", 10)]


def test_new_root_data_reruns_the_models_that_read_it(make_project: MakeProject) -> None:
    project = pipeline(make_project)
    project.run_ok()
    project.write({"input.json": json.dumps([*ROWS, {"g": "c", "n": 1}])})
    result = project.run_ok()
    assert set(statuses(result).values()) == {"success"}
    assert result.models["totals"].message is None
    assert project.sql("SELECT * FROM report ORDER BY g") == [("a", 6), ("b", 10), ("c", 2)]
    assert project.sql("SELECT * FROM through_view") == [(3,)]


def test_reformatting_sql_or_editing_a_comment_does_not_rerun(make_project: MakeProject) -> None:
    project = pipeline(make_project)
    project.run_ok()
    project.write(
        {
            "models/totals.sql": """
                -- @description: totals per group, now documented better
                -- a comment that explains the query
                select g,   SUM(n)   as total   /* inline comment */
                from   source   group by g
            """
        }
    )
    result = project.run_ok()
    assert statuses(result)["totals"] == "skipped"
    assert statuses(result)["report"] == "skipped"
    assert reasons(result)["totals"] == "unchanged since the last run"


def test_changing_logic_reruns_the_model_and_everything_downstream(
    make_project: MakeProject,
) -> None:
    project = pipeline(make_project)
    project.run_ok()
    project.write({"models/totals.sql": "SELECT g, sum(n) + 100 AS total FROM source GROUP BY g"})
    result = project.run_ok()
    assert statuses(result) == {
        "source": "success",
        "totals": "success",
        "report": "success",
        "report_view": "success",
        "through_view": "success",
    }
    assert project.sql("SELECT * FROM report ORDER BY g") == [("a", 206), ("b", 210)]
    # a third run is quiet again
    third = project.run_ok()
    assert [r.name for r in third.succeeded] == ["source"]


def test_changing_a_result_option_reruns_but_documentation_does_not(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/base.sql": "SELECT 1 AS id",
            "models/child.sql": "-- @tags: [a]\nSELECT * FROM base\n",
        }
    )
    project.run_ok()
    project.write(
        {"models/child.sql": "-- @tags: [a, b]\n-- @owner: data-team\nSELECT * FROM base\n"}
    )
    assert project.run_ok().models["child"].status == "skipped"
    project.write({"models/child.sql": "-- @schema: other\nSELECT * FROM base\n"})
    result = project.run_ok()
    assert result.models["child"].status == "success"
    assert project.sql("SELECT * FROM other.child") == [(1,)]


def test_cache_ttl_skips_a_fresh_root_and_its_downstream(make_project: MakeProject) -> None:
    project = pipeline(make_project, '(cache={"ttl": "7d"})')
    project.run_ok()
    project.write({"input.json": json.dumps([{"g": "z", "n": 1}])})  # ignored while fresh
    result = project.run_ok()
    assert set(statuses(result).values()) == {"skipped"}
    assert re.fullmatch(r"cached: last built \d+s ago, ttl 7d", reasons(result)["source"] or "")
    assert project.sql("SELECT g FROM source ORDER BY g") == [("a",), ("a",), ("b",)]

    forced = project.run_ok(force=True)
    assert set(statuses(forced).values()) == {"success"}
    assert project.sql("SELECT * FROM report") == [("z", 2)]


def test_cache_strategies_if_exists_and_always(make_project: MakeProject) -> None:
    project = pipeline(make_project, '(cache={"strategy": "if_exists"})')
    project.run_ok()
    result = project.run_ok()
    assert reasons(result)["source"] == "cached: table exists (cache strategy if_exists)"

    project.write({"models/source.py": SOURCE_PY.format(options='(cache={"strategy": "always"})')})
    project.run_ok()
    assert project.run_ok().models["source"].status == "success"


def test_force_reruns_every_model(make_project: MakeProject) -> None:
    project = pipeline(make_project)
    project.run_ok()
    result = project.run_ok(force=True)
    assert set(statuses(result).values()) == {"success"}
    # forced, but the data is the same: downstream models still write identical tables
    assert project.sql("SELECT * FROM report ORDER BY g") == [("a", 6), ("b", 10)]


def test_a_table_dropped_by_hand_is_rebuilt(make_project: MakeProject) -> None:
    project = pipeline(make_project)
    project.run_ok()
    with duckdb.connect(str(project.db_path())) as con:
        con.execute("DROP TABLE totals")
    result = project.run_ok()
    assert result.models["totals"].status == "success"
    assert project.sql("SELECT * FROM totals ORDER BY g") == [("a", 3), ("b", 5)]
    assert project.sql("SELECT * FROM report ORDER BY g") == [("a", 6), ("b", 10)]


def test_a_model_whose_upstream_failed_runs_again_once_it_is_fixed(
    make_project: MakeProject,
) -> None:
    project = pipeline(make_project)
    project.run_ok()
    project.write(
        {
            "input.json": json.dumps([*ROWS, {"g": "c", "n": 4}]),
            "models/totals.sql": "SELECT g, sum(n) AS total FROM source GROUP BY g, missing_col",
        }
    )
    broken = project.run()
    assert broken.models["totals"].status == "failed"
    assert broken.models["report"].skip_kind == "upstream_failed"
    assert broken.models["report"].skip_reason == "upstream 'totals' failed"
    # back to the original definition: source's new data was never consumed, so totals runs
    project.write({"models/totals.sql": PIPELINE["models/totals.sql"]})
    fixed = project.run_ok()
    assert fixed.models["totals"].status == "success"
    assert fixed.models["report"].status == "success"
    assert project.sql("SELECT * FROM report ORDER BY g") == [("a", 6), ("b", 10), ("c", 8)]
