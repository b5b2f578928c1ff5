"""Strategies come from a registry: a new one is one class plus its registration (no core edit).

``insert_only`` below is such a strategy, written the way the built-in ones are (sqlglot ASTs),
registered with :func:`register_strategy` and used by real projects.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from interlace import statements as st
from interlace.engines.duckdb import DuckDBEngine
from interlace.errors import ConfigError, ModelDefinitionError
from interlace.strategies import (
    PublishContext,
    Step,
    Strategy,
    get_strategy,
    register_strategy,
    strategy_names,
    unregister_strategy,
)
from interlace.strategies.base import aliased, col, exists_in
from interlace.strategies.replace import swap_in
from sqlglot import exp

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir


class InsertOnly(Strategy):
    """Insert the rows whose key the table does not have yet; never change a row."""

    name = "insert_only"
    needs_keys = True

    def steps(self, ctx: PublishContext) -> list[Step]:
        if ctx.target_kind != "table":
            return swap_in(ctx)  # first run: the staged result becomes the table
        names = ctx.staged_names
        fresh = exp.not_(exists_in(ctx.target, ctx.keys, "s"))
        rows = (
            exp.select(*[col(c, "s") for c in names]).from_(aliased(ctx.staging, "s")).where(fresh)
        )
        return [
            Step(st.insert_query(ctx.target, names, rows), ("inserted",)),
            Step(st.drop(ctx.staging)),
        ]


@pytest.fixture
def insert_only() -> Iterator[Strategy]:
    registered = register_strategy(InsertOnly)
    yield registered
    unregister_strategy("insert_only")


ITEMS_MODEL = """
import json
from pathlib import Path

from interlace import model

@model(strategy="insert_only", primary_key="id")
def items():
    return json.loads((Path(__file__).parent.parent / "input.json").read_text())
"""


def run_batch(project: ProjectDir, rows: list[dict[str, object]]) -> dict[str, int]:
    project.write({"input.json": json.dumps(rows)})
    return dict(project.run_ok().models["items"].stats)


def test_registered_strategy_keeps_existing_keys_and_adds_new_ones_over_two_runs(
    make_project: MakeProject, insert_only: Strategy
) -> None:
    project = make_project({"models/items.py": ITEMS_MODEL})
    first = [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
    assert run_batch(project, first) == {"inserted": 2}
    assert project.rows("items", "id") == first

    # id 2 comes back changed (kept as it was), id 3 is new, id 1 is missing (kept)
    assert run_batch(project, [{"id": 2, "v": "B"}, {"id": 3, "v": "c"}]) == {"inserted": 1}
    assert project.rows("items", "id") == [
        {"id": 1, "v": "a"},
        {"id": 2, "v": "b"},
        {"id": 3, "v": "c"},
    ]


def test_registered_strategy_works_from_a_sql_header_and_as_the_config_default(
    make_project: MakeProject, insert_only: Strategy
) -> None:
    config = """\
    name: test_project
    connections:
      default:
        type: duckdb
        path: data/{env}.duckdb
    models:
      default_strategy: insert_only
    """
    project = make_project(
        {"models/events.sql": "-- @primary_key: id\nSELECT 1 AS id, 'a' AS v\n"}, config=config
    )
    assert project.load().models["events"].strategy == "insert_only"
    project.run_ok()
    project.write(
        {
            "models/events.sql": "-- @primary_key: id\nSELECT * FROM (VALUES (1, 'x'), (2, 'b')) AS t(id, v)\n"
        }
    )
    project.run_ok()
    assert project.rows("events", "id") == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]


def test_registered_strategy_declarations_are_load_errors_with_the_models_location(
    make_project: MakeProject, insert_only: Strategy
) -> None:
    unkeyed = make_project({"models/items.sql": "-- @strategy: insert_only\nSELECT 1 AS id\n"})
    with pytest.raises(ModelDefinitionError, match="strategy 'insert_only' needs primary_key"):
        unkeyed.load()

    with_delete_mode = make_project(
        {
            "models/items.sql": (
                "-- @strategy: insert_only\n-- @primary_key: id\n-- @delete_mode: hard\n"
                "SELECT 1 AS id\n"
            )
        }
    )
    with pytest.raises(ModelDefinitionError) as info:
        with_delete_mode.load()
    assert (info.value.file or "").endswith("models/items.sql")
    assert info.value.message == (
        "delete_mode applies to the merge_by_key and scd_type_2 strategies only"
    )


def test_unknown_strategy_lists_every_registered_one(
    make_project: MakeProject, insert_only: Strategy
) -> None:
    project = make_project({"models/items.sql": "-- @strategy: upsert\nSELECT 1 AS id\n"})
    with pytest.raises(ModelDefinitionError) as info:
        project.load()
    assert (info.value.file, info.value.line) == ("models/items.sql", 1)
    for name in ("'replace'", "'append'", "'merge_by_key'", "'scd_type_2'", "'insert_only'"):
        assert name in (info.value.hint or "")

    unregister_strategy("insert_only")
    try:
        assert "insert_only" not in strategy_names()
        with pytest.raises(ModelDefinitionError, match="unknown strategy 'insert_only'"):
            get_strategy("insert_only")
    finally:
        register_strategy(InsertOnly)  # the fixture unregisters it


def test_unknown_default_strategy_in_the_config_names_its_line(make_project: MakeProject) -> None:
    config = """\
    name: test_project
    connections:
      default:
        type: duckdb
        path: data/{env}.duckdb
    models:
      default_strategy: upsert
    """
    project = make_project(config=config)
    with pytest.raises(ConfigError) as info:
        project.load()
    assert info.value.line == 7
    assert "models.default_strategy: invalid value 'upsert'" in info.value.message
    assert "'merge_by_key'" in info.value.message


def test_scd2_options_belong_to_the_scd_type_2_strategy_only(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/items.py": """
                from interlace import model

                @model(strategy="merge_by_key", primary_key="id", scd2={"valid_from": "since"})
                def items():
                    return [{"id": 1}]
            """
        }
    )
    with pytest.raises(ModelDefinitionError) as info:
        project.load()
    assert info.value.model == "items"
    assert "option 'scd2' applies to the scd_type_2 strategy only" in info.value.message
    assert "strategy='scd_type_2'" in (info.value.hint or "")


class _Named(Strategy):
    def steps(self, ctx: PublishContext) -> list[Step]:
        return []


class _Append(_Named):
    name = "append"


class _Teleport(_Named):
    name = "teleport"
    requires = ("teleportation",)


class _Unnamed(_Named):
    pass


@pytest.mark.parametrize(
    ("strategy", "fragment"),
    [
        (_Append, "a strategy called 'append' is already registered"),
        (_Teleport, "requires names no capability 'teleportation'"),
        (_Unnamed, "declares no name"),
    ],
)
def test_register_strategy_refuses_a_taken_name_and_wrong_declarations(
    strategy: type[Strategy], fragment: str
) -> None:
    with pytest.raises(ConfigError, match=fragment):
        register_strategy(strategy)
    assert get_strategy("append").name == "append"  # the built-in one stays


def test_strategy_needing_a_capability_the_engine_lacks_fails_before_writing(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        DuckDBEngine,
        "capabilities",
        dataclasses.replace(DuckDBEngine.capabilities, joined_dml=False),
    )
    project = make_project(
        {"models/items.sql": "-- @strategy: merge_by_key\n-- @primary_key: id\nSELECT 1 AS id\n"}
    )
    result = project.run()
    error = result.models["items"].error or ""
    assert "strategy 'merge_by_key' needs joined_dml" in error
    assert "items" not in [name.split(".")[-1] for name in project.relations()]
