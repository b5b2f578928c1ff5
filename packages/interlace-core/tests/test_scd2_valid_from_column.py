"""scd_type_2 with ``valid_from_column``: versions valid from a source timestamp (dbt's
timestamp strategy), not from the run's time."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
from interlace.errors import ModelDefinitionError

if TYPE_CHECKING:
    from conftest import MakeProject

SNAPSHOT = """\
-- @strategy: scd_type_2
-- @primary_key: id
-- @delete_mode: soft
-- @scd2:
--   valid_from_column: updated_at
--   tracked_columns: [updated_at]
--   valid_from: dbt_valid_from
--   valid_to: dbt_valid_to
select * from src.customers
"""


def day(d: int) -> dt.datetime:
    return dt.datetime(2024, 1, d)


def test_versions_start_at_the_rows_timestamp_and_end_where_the_next_one_starts(
    make_project: MakeProject,
) -> None:
    project = make_project({"models/history.sql": SNAPSHOT})
    project.execute(
        "create schema src; create table src.customers as select * from (values "
        "(1, 'Ann', timestamp '2024-01-01'), (2, 'Bob', timestamp '2024-01-02'), "
        "(3, 'Cy', timestamp '2024-01-03')) t(id, name, updated_at)"
    )
    project.run_ok()
    project.execute(
        # Ann changed on the 5th; Bob's name changed without a new timestamp (not tracked,
        # as in dbt's timestamp strategy); Cy is gone
        "update src.customers set name = 'Anne', updated_at = timestamp '2024-01-05' "
        "where id = 1; update src.customers set name = 'Bobby' where id = 2; "
        "delete from src.customers where id = 3"
    )
    result = project.run_ok()
    assert result["history"].stats == {"inserted": 0, "updated": 1, "deleted": 1}
    rows = project.query(
        "select id, name, dbt_valid_from, dbt_valid_to, is_current from history "
        "order by id, dbt_valid_from"
    )
    assert [(r["id"], r["name"], r["dbt_valid_from"], r["dbt_valid_to"]) for r in rows[:3]] == [
        (1, "Ann", day(1), day(5)),
        (1, "Anne", day(5), None),
        (2, "Bob", day(2), None),
    ]
    gone = rows[3]
    assert (gone["id"], gone["dbt_valid_from"], gone["is_current"]) == (3, day(3), False)
    assert gone["dbt_valid_to"] > day(5)  # closed at the run's time: no row says when it went


def test_valid_from_column_cannot_be_a_column_the_strategy_writes(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/history.sql": (
                "-- @strategy: scd_type_2\n-- @primary_key: id\n"
                "-- @scd2: {valid_from_column: valid_to}\nselect 1 as id"
            )
        }
    )
    with pytest.raises(ModelDefinitionError) as info:
        project.load()
    assert "scd2.valid_from_column 'valid_to' is a column the strategy writes" in (
        info.value.message
    )


def test_a_missing_valid_from_column_fails_the_model_naming_the_columns(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/history.sql": (
                "-- @strategy: scd_type_2\n-- @primary_key: id\n"
                "-- @scd2: {valid_from_column: changed_at}\nselect 1 as id, 'a' as name"
            )
        }
    )
    result = project.run()
    error = result["history"].error or ""
    assert "scd2.valid_from_column names 'changed_at'" in error
    assert "id, name" in error
