"""`interlace run`: progress lines, summary, exit codes, failures and selection (SPEC §2.5, §6.2)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import Folder, MakeProject, Result

# a -> b -> c -> d (SQL), and an independent e; b calls a helper that divides by zero
PIPELINE = {
    "models/pipeline.py": """
        from interlace import model


        def ratio(n):
            return 10 / n


        @model(tags=["ingest"])
        def a():
            return [{"id": 1, "n": 0}, {"id": 2, "n": 5}]


        @model(tags=["ingest"])
        def b(a):
            for row in a.to_pyarrow().to_pylist():
                ratio(row["n"])
            return a


        @model
        def c(b):
            return b


        @model(tags=["side"])
        def e():
            return {"x": [1, 2, 3]}
    """,
    "models/d.sql": """
        -- @tags: [report]
        select count(*) as n from c
    """,
}

LINE_OF_DIVISION = 5  # `return 10 / n` in models/pipeline.py
LINE_OF_CALL = 16  # `ratio(row["n"])`

HEALTHY = {
    "models/sources.py": """
        from interlace import model


        @model(tags=["x"])
        def a():
            return [{"id": 1}, {"id": 2}, {"id": 3}]


        @model
        def other():
            return [{"v": 1}]
    """,
    "models/chain.sql": """
        -- @name: b
        select id from a where id > 1

        -- @name: c
        -- @tags: [x]
        select id, id * 2 as double from b
    """,
}


def status_lines(result: Result) -> dict[str, str]:
    """Model name -> the mark (✓ ✗ -) of its progress line."""
    marks = {}
    for line in result.stdout.splitlines():
        match = re.match(r"^\s+([✓✗-]) (\S+)", line)
        if match:
            marks[match.group(2)] = match.group(1)
    return marks


def test_run_prints_one_line_per_model_and_a_summary(project: Folder) -> None:
    project.write(HEALTHY)

    result = project.interlace("run")

    assert result.code == 0, result
    assert status_lines(result) == {"a": "✓", "b": "✓", "c": "✓", "other": "✓"}
    assert re.search(r"✓ a\s+3 rows\s+\d", result.stdout), result
    assert re.search(r"^Done in [\d.]+m?s: 4 succeeded, 0 failed$", result.stdout, re.M)
    assert project.sql("SELECT id, double FROM main.c ORDER BY id") == [(2, 4), (3, 6)]


def test_run_failure_exits_1_and_shows_error_location_and_user_traceback(
    project: Folder,
) -> None:
    project.write(PIPELINE)

    result = project.interlace("run")

    assert result.code == 1, result
    assert status_lines(result) == {"a": "✓", "b": "✗", "c": "-", "d": "-", "e": "✓"}
    assert re.search(r"✗ b\s+ZeroDivisionError: division by zero", result.stdout), result
    assert "skipped: upstream 'b' failed" in result.stdout
    assert re.search(
        r"^Failed in [\d.]+m?s: 2 succeeded, 1 failed, 2 skipped$", result.stdout, re.M
    )
    assert f"models/pipeline.py:{LINE_OF_DIVISION}" in result.stdout

    frames = re.findall(r'File "([^"]+)", line (\d+)', result.output)
    assert frames, result
    assert {file for file, _ in frames} == {str(project.root / "models" / "pipeline.py")}, result
    assert [int(line) for _, line in frames] == [LINE_OF_CALL, LINE_OF_DIVISION]
    assert "site-packages" not in result.output
    assert "/interlace/" not in result.output, "frames of interlace internals were printed"
    assert "Traceback (most recent call last)" not in result.output

    # the independent branch was still built; nothing downstream of the failure was
    assert project.count("main.e") == 3
    assert project.count("main.a") == 2
    assert {"main.b", "main.c", "main.d"}.isdisjoint(project.relations())


def test_run_failure_of_a_sql_model_names_its_file(project: Folder) -> None:
    project.write({"models/bad.sql": "select no_such_column from (select 1 as x)\n"})

    result = project.interlace("run")

    assert result.code == 1, result
    assert status_lines(result) == {"bad": "✗"}
    assert "no_such_column" in result.stdout
    assert "models/bad.sql:1" in result.stdout
    assert not result.has_traceback, result


def test_run_with_nothing_to_do_succeeds(project: Folder) -> None:
    result = project.interlace("run")

    assert result.code == 0, result
    assert "0 model(s)" in result.stdout


@pytest.fixture(scope="module")
def built(shared_project: MakeProject) -> Folder:
    """The healthy chain, built once; selection tests run on copies of it."""
    project = shared_project("built", HEALTHY)
    result = project.interlace("run")
    assert result.code == 0, result
    return project


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (["+b"], {"a", "b"}),
        (["a+"], {"a", "b", "c"}),
        (["+c", "--exclude", "a"], {"b", "c"}),
        (["a+", "-x", "c"], {"a", "b"}),
        (["tag:x"], {"a", "c"}),
        (["other", "b"], {"b", "other"}),
        (["--exclude", "tag:x"], {"b", "other"}),
        (["main.other"], {"other"}),
    ],
)
def test_run_selection_runs_only_the_selected_models(
    built: Folder, tmp_path: Path, selection: list[str], expected: set[str]
) -> None:
    project = built.copy_to(tmp_path / "project")

    result = project.interlace("run", "--force", *selection)

    assert result.code == 0, result
    assert set(status_lines(result)) == expected, result
    assert f"{len(expected)} model(s)" in result.stdout


def test_run_selection_that_matches_nothing_suggests_a_name(project: Folder) -> None:
    project.write(HEALTHY)

    typo = project.interlace("run", "othr")
    tag = project.interlace("run", "tag:nope")
    excluded_typo = project.interlace("run", "--exclude", "bb")

    for result in (typo, tag, excluded_typo):
        assert result.code == 1, result
        assert "matches no model" in result.stderr, result
        assert not result.has_traceback, result
    assert "did you mean other?" in typo.stderr
    assert "known tags: x" in tag.stderr
    assert "did you mean b?" in excluded_typo.stderr
    assert not project.db().exists(), "a failed selection must not touch the database"


def test_run_workers_option_runs_the_project(project: Folder) -> None:
    project.write(HEALTHY)

    result = project.interlace("run", "--workers", "1")
    invalid = project.interlace("run", "--workers", "0")

    assert result.code == 0, result
    assert "4 succeeded" in result.stdout
    assert invalid.code == 2, invalid
    assert "--workers" in invalid.stderr


def test_project_option_runs_a_project_from_another_folder(project: Folder) -> None:
    project.write(HEALTHY)
    elsewhere = project.sub("elsewhere")
    elsewhere.root.mkdir()

    before_command = elsewhere.interlace("--project", "..", "run", "other")
    after_command = elsewhere.interlace("run", "-p", str(project.root), "a")

    assert before_command.code == 0, before_command
    assert after_command.code == 0, after_command
    assert project.count("main.other") == 1
    assert project.count("main.a") == 3
    assert list(elsewhere.root.iterdir()) == []


# docs/connections.md: `kinds` (default connection) reads `events`, which lives on `lake`
CROSS_CONNECTION = {
    "config.yaml": """
        name: cross
        connections:
          default: {type: duckdb, path: "data/{env}.duckdb"}
          lake: {type: duckdb, path: "data/lake.duckdb"}
    """,
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


def test_run_of_one_model_reading_another_connection_reads_it_there(project: Folder) -> None:
    project.write(CROSS_CONNECTION)
    assert project.interlace("run").code == 0
    project.write(
        {
            "models/warehouse.sql": """
                -- @name: kinds
                select kind, count(*) as n, min(id) as first_id from events group by kind
            """
        }
    )

    result = project.interlace("run", "kinds")

    assert result.code == 0, result
    assert status_lines(result) == {"kinds": "✓"}
    assert "1 succeeded, 0 failed" in result.stdout
    assert project.sql("SELECT kind, n, first_id FROM main.kinds ORDER BY kind") == [
        (0, 83334, 0),
        (1, 83333, 1),
        (2, 83333, 2),
    ]


HOURLY = {
    "models/hourly.sql": """
        -- @name: readings
        select range as id, TIMESTAMP '2024-01-01' + to_hours(range) as ts from range(48)

        -- @name: per_day
        select ts::DATE as day, count(*) as n from readings group by all
    """
}
INCREMENTAL = {
    "models/log.sql": """
        -- @strategy: append
        -- @cursor: ts
        select id, ts from readings
    """
}
TINY_WINDOW = ("--since", "2000-01-01", "--until", "2024-01-01", "--window", "1s")


def test_run_refuses_a_window_that_splits_into_too_many_runs(project: Folder) -> None:
    project.write({**HOURLY, **INCREMENTAL})

    result = project.interlace("run", *TINY_WINDOW, timeout=60)

    assert result.code == 1, result
    assert (
        "error: --window 1s splits 2000-01-01 .. 2024-01-01 into 757,382,400 windows; a "
        "backfill runs at most 10,000 (each window is one run)\n"
        "  hint: use a larger --window (1d makes 8,766), a shorter --since/--until range, or "
        "leave --window out to process the whole range in one run\n"
    ) in result.stderr, result
    assert not result.has_traceback, result
    assert not project.db().exists(), "a refused window must not run anything"


def test_run_with_a_window_but_no_incremental_model_runs_once(project: Folder) -> None:
    project.write(HOURLY)

    result = project.interlace("run", *TINY_WINDOW, timeout=60)

    assert result.code == 0, result
    assert (
        "note: --window 1s ignored: no selected model is incremental (cursor), so the models "
        "run once"
    ) in result.stdout
    assert "window(s) run" not in result.stdout
    assert status_lines(result) == {"readings": "✓", "per_day": "✓"}
    assert project.sql("SELECT day::VARCHAR, n FROM main.per_day ORDER BY day") == [
        ("2024-01-01", 24),
        ("2024-01-02", 24),
    ]


def test_a_rerun_of_many_unchanged_models_sums_them_up_and_v_lists_each(
    project: Folder,
) -> None:
    # 60 models reading one root that stays cached (a model reading nothing runs every time)
    root = "-- @cache: {strategy: if_exists}\nselect 1 as n\n"
    models = {f"models/m_{i:02d}.sql": f"select n + {i} as n from root" for i in range(60)}
    project.write({"models/root.sql": root, **models})
    assert project.interlace("run").code == 0

    again = project.interlace("run")
    listed = project.interlace("run", "-v")

    assert again.code == 0, again
    summed = [line for line in again.stdout.splitlines() if "skipped:" in line]
    assert summed[0].strip().startswith("- root  skipped: cached"), again.stdout
    assert len(summed) == 2, again.stdout
    assert "60 model(s)  skipped: unchanged since the last run: m_00, m_01" in summed[1]
    assert "(-v lists all 60)" in summed[1]
    assert "61 unchanged" in again.stdout
    each = [line for line in listed.stdout.splitlines() if "unchanged since the last run" in line]
    assert len(each) == 60 and each[0].strip() == "- m_00  skipped: unchanged since the last run"
