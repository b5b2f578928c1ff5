"""The testing framework (SPEC §9): `test_model` runs one model against mocked upstreams in an
in-memory DuckDB; the pytest plugin's fixtures build and run whole projects."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from typing import Any

import ibis
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from interlace import model
from interlace.errors import ModelDefinitionError
from interlace.testing import (
    ModelTestError,
    ProjectFolder,
    mock_dependency,
    test_model,
    test_model_sync,
)

ROWS = [
    {"day": 1, "amount": 2.0},
    {"day": 1, "amount": 3.0},
    {"day": 2, "amount": 1.0},
]


@model
def daily_totals(orders):
    """Total amount per day, as an ibis expression over the lazy upstream table."""
    return orders.group_by("day").agg(total=orders.amount.sum()).order_by("day")


# ---------------------------------------------------------------------------- dependencies


@pytest.mark.parametrize(
    "orders",
    [
        pytest.param(ROWS, id="list-of-dicts"),
        pytest.param({"day": [1, 1, 2], "amount": [2.0, 3.0, 1.0]}, id="dict-of-columns"),
        pytest.param(pa.Table.from_pylist(ROWS), id="arrow-table"),
        pytest.param(pd.DataFrame(ROWS), id="pandas"),
        pytest.param(pl.DataFrame(ROWS), id="polars"),
        pytest.param(mock_dependency(ROWS), id="mock_dependency"),
        pytest.param(mock_dependency(pl.DataFrame(ROWS)), id="mock_dependency-polars"),
    ],
)
def test_every_kind_of_dependency_data_becomes_an_upstream_table(orders: Any) -> None:
    result = test_model_sync(daily_totals, deps={"orders": orders})
    assert result.status == "success", result.error
    assert result.error is None
    assert result.rows == [{"day": 1, "total": 5.0}, {"day": 2, "total": 1.0}]
    assert result.columns == ["day", "total"]
    assert result.row_count == 2


def test_an_empty_mock_with_fields_is_a_typed_empty_table() -> None:
    orders = mock_dependency([], fields={"day": "int64", "amount": "float64"})
    result = test_model_sync(daily_totals, deps={"orders": orders})
    assert result.status == "success", result.error
    assert result.row_count == 0
    assert result.table is not None
    assert result.table.schema.field("total").type == pa.float64()


def test_mock_fields_cast_the_upstream_columns() -> None:
    @model
    def typed(events):
        return events

    events = mock_dependency([{"id": 1, "at": "2024-01-02"}], fields={"at": "date"})
    result = test_model_sync(typed, deps={"events": events})
    assert result.rows == [{"id": 1, "at": dt.date(2024, 1, 2)}]


def test_a_dependency_the_model_reads_but_deps_lacks_is_a_set_up_error() -> None:
    with pytest.raises(ModelTestError, match="reads 'orders', which deps= does not provide"):
        test_model_sync(daily_totals, deps={})


def test_unusable_dependency_data_is_a_set_up_error_naming_the_dependency() -> None:
    with pytest.raises(ModelTestError, match=r"deps\['orders'\] cannot become a table"):
        test_model_sync(daily_totals, deps={"orders": [1, 2, 3]})


def test_a_parameter_mapped_with_dependencies_reads_the_mapped_model() -> None:
    @model(dependencies={"src": "raw.orders"})
    def copied(src):
        return src.filter(src.day == 2)

    by_model = test_model_sync(copied, deps={"raw.orders": ROWS})
    by_parameter = test_model_sync(copied, deps={"src": ROWS})
    assert by_model.rows == by_parameter.rows == [{"day": 2, "amount": 1.0}]


# ---------------------------------------------------------------------------- return types


def ibis_result(orders):
    return orders.filter(orders.day == 1).select("day", "amount")


def arrow_result(orders):
    return pa.table({"day": [1, 1], "amount": [2.0, 3.0]})


def pandas_result(orders):
    return orders.to_pandas().query("day == 1")


def polars_result(orders):
    return pl.from_arrow(orders.to_pyarrow()).filter(pl.col("day") == 1)


def rows_result(orders):
    return [{"day": 1, "amount": 2.0}, {"day": 1, "amount": 3.0}]


def columns_result(orders):
    return {"day": [1, 1], "amount": [2.0, 3.0]}


def generator_of_rows(orders):
    yield {"day": 1, "amount": 2.0}
    yield {"day": 1, "amount": 3.0}


def generator_of_batches(orders) -> Iterator[pa.RecordBatch]:
    for amount in (2.0, 3.0):
        yield pa.RecordBatch.from_pydict({"day": [1], "amount": [amount]})


async def async_result(orders):
    await asyncio.sleep(0)
    return [{"day": 1, "amount": 2.0}, {"day": 1, "amount": 3.0}]


@pytest.mark.parametrize(
    "fn",
    [
        ibis_result,
        arrow_result,
        pandas_result,
        polars_result,
        rows_result,
        columns_result,
        generator_of_rows,
        generator_of_batches,
        async_result,
    ],
)
def test_every_return_type_of_a_plain_function_is_read_back(fn: Any) -> None:
    result = test_model_sync(fn, deps={"orders": ROWS})
    assert result.status == "success", result.error
    assert sorted((r["day"], r["amount"]) for r in result.rows) == [(1, 2.0), (1, 3.0)]
    assert result.name == fn.__name__


def test_a_model_returning_none_succeeds_without_a_table() -> None:
    result = test_model_sync(lambda orders: None, deps={"orders": ROWS})
    assert result.status == "success"
    assert (result.table, result.rows, result.row_count) == (None, [], 0)


def test_fields_override_casts_the_result() -> None:
    result = test_model_sync(daily_totals, deps={"orders": ROWS}, fields={"total": "int32"})
    assert result.table is not None
    assert result.table.schema.field("total").type == pa.int32()
    assert result.rows == [{"day": 1, "total": 5}, {"day": 2, "total": 1}]


def test_df_is_a_pandas_dataframe_of_the_rows() -> None:
    result = test_model_sync(daily_totals, deps={"orders": ROWS})
    assert isinstance(result.df, pd.DataFrame)
    assert result.df["total"].tolist() == [5.0, 1.0]


def test_context_and_cursor_parameters_are_passed_like_in_a_run() -> None:
    @model(strategy="append", cursor="day")
    def incremental(orders, context, cursor):
        return orders.mutate(env=ibis.literal(context.env), seen=ibis.literal(cursor))

    result = test_model_sync(incremental, deps={"orders": ROWS}, cursor=1)
    assert result.status == "success", result.error
    # the upstream is filtered to rows after the watermark, like an incremental run
    assert result.rows == [{"day": 2, "amount": 1.0, "env": "test", "seen": 1}]


def test_a_merge_model_with_duplicate_keys_fails_like_in_a_run() -> None:
    @model(strategy="merge_by_key", primary_key="day")
    def latest(orders):
        return orders

    result = test_model_sync(latest, deps={"orders": ROWS})
    assert result.status == "failed"
    assert result.error is not None and "duplicate primary_key values" in result.error


def test_a_failing_model_reports_its_error_and_traceback() -> None:
    def broken(orders):
        return 1 / 0

    result = test_model_sync(broken, deps={"orders": ROWS})
    assert result.status == "failed"
    assert result.error == "ZeroDivisionError: division by zero"
    assert isinstance(result.exception, Exception)
    assert result.traceback is not None and "return 1 / 0" in result.traceback
    assert (result.table, result.rows, result.columns) == (None, [], [])


def test_option_overrides_are_validated_like_the_decorator() -> None:
    with pytest.raises(ModelDefinitionError, match="unknown model option 'colour'"):
        test_model_sync(daily_totals, deps={"orders": ROWS}, colour="red")


def test_test_model_is_awaitable_and_pytest_does_not_collect_it() -> None:
    result = asyncio.run(test_model(daily_totals, deps={"orders": ROWS}))
    assert result.row_count == 2
    assert test_model.__test__ is False  # type: ignore[attr-defined]


def test_test_model_sync_works_inside_a_running_event_loop() -> None:
    async def main() -> int:
        return test_model_sync(async_result, deps={"orders": ROWS}).row_count

    assert asyncio.run(main()) == 2


# ---------------------------------------------------------------------------- SQL models


def test_sql_text_with_a_header_runs_against_mocked_tables() -> None:
    sql = """
        -- @schema: marts
        select o.day, c.name, sum(o.amount) as total
        from raw.orders as o
        join customers as c on c.day = o.day
        group by all
        order by o.day
    """
    result = test_model_sync(
        sql, deps={"orders": ROWS, "customers": [{"day": 1, "name": "a"}, {"day": 2, "name": "b"}]}
    )
    assert result.status == "success", result.error
    assert result.rows == [
        {"day": 1, "name": "a", "total": 5.0},
        {"day": 2, "name": "b", "total": 1.0},
    ]


def test_a_sql_file_with_several_models_picks_one_by_name(tmp_path: Any) -> None:
    path = tmp_path / "marts.sql"
    path.write_text(
        "-- @name: big\nselect * from orders where amount > 1\n\n"
        "-- @name: small\nselect * from orders where amount <= 1\n"
    )
    result = test_model_sync(path, deps={"orders": ROWS}, name="small")
    assert result.name == "small"
    assert result.rows == [{"day": 2, "amount": 1.0}]
    with pytest.raises(ModelTestError, match="holds 2 models"):
        test_model_sync(str(path), deps={"orders": ROWS})


def test_a_sql_error_is_a_failed_result() -> None:
    result = test_model_sync("select no_such_column from orders", deps={"orders": ROWS})
    assert result.status == "failed"
    assert result.error is not None and "no_such_column" in result.error


def test_a_table_the_sql_reads_but_deps_lacks_is_a_set_up_error() -> None:
    with pytest.raises(ModelTestError, match=r"reads 'raw\.orders'"):
        test_model_sync("select * from raw.orders", deps={})


def test_a_model_of_a_loaded_project_is_tested_by_name(interlace_project: ProjectFolder) -> None:
    interlace_project.write(
        {
            "models/orders.sql": "-- @schema: raw\nselect 1 as day, 2.0 as amount",
            "models/totals.sql": """
                -- @schema: marts
                -- @export: exports/totals.csv
                select day, sum(amount) as total from raw.orders group by day
            """,
        }
    )
    project = interlace_project.load()
    result = test_model_sync("totals", project=project, deps={"orders": ROWS})
    assert sorted(result.rows, key=lambda r: r["day"]) == [
        {"day": 1, "total": 5.0},
        {"day": 2, "total": 1.0},
    ]
    assert not (interlace_project.root / "exports").exists()  # tests never write exports
    spec_result = test_model_sync(project.models["totals"], deps={"raw.orders": ROWS})
    assert spec_result.row_count == 2


# ---------------------------------------------------------------------------- pytest fixtures


def test_interlace_project_fixture_builds_runs_and_queries_a_project(
    interlace_project: ProjectFolder,
) -> None:
    interlace_project.write(
        {
            "models/orders.py": """
                from interlace import model

                @model(schema="raw")
                def orders():
                    return [{"id": 1, "amount": 2.5}, {"id": 2, "amount": 4.0}]
            """,
            "models/total.sql": "select sum(amount) as total from raw.orders",
        }
    )
    result = interlace_project.run_ok()
    assert result.success
    assert interlace_project.rows("orders", order_by="id") == [
        {"id": 1, "amount": 2.5},
        {"id": 2, "amount": 4.0},
    ]
    assert interlace_project.count("raw.orders") == 2
    assert interlace_project.query("select * from total") == [{"total": 6.5}]
    assert interlace_project.table("total").column_names == ["total"]


def test_interlace_project_run_ok_names_the_failing_model(
    interlace_project: ProjectFolder,
) -> None:
    interlace_project.write({"models/bad.sql": "select * from no_such_table"})
    with pytest.raises(AssertionError, match="bad: failed"):
        interlace_project.run_ok()


def test_run_project_fixture_runs_a_project_folder_on_a_fresh_copy(
    run_project: Any, tmp_path: Any
) -> None:
    source = ProjectFolder.create(tmp_path / "shop")
    source.write(
        {
            "models/customers.sql": "select 1 as id, 'ann' as name union all select 2, 'bob'",
            "models/named.py": """
                from interlace import model

                @model
                def named(customers):
                    return customers.filter(customers.name == "bob")
            """,
        }
    )
    first = run_project(source.root)
    second = run_project(source.root, ["customers"])
    assert first.result.success and second.result.success
    assert list(second.result.models) == ["customers"]  # each run starts from a fresh copy
    assert first.rows("named") == [{"id": 2, "name": "bob"}]
    assert first.root != source.root
    assert not (source.root / "data").exists()  # the original folder is untouched
