"""`interlace plan` (SPEC §13.2): what a run would do, schema changes and breaking changes.

Every case edits a three-level project (raw -> orders/customers -> revenue -> report), plans,
then runs, and holds the plan against what the run did: a model the plan says will run ran, a
model it says will be skipped was skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import pytest
from interlace.plan import Plan, plan_project

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir

MODELS = {
    "models/raw.sql": """
        -- @primary_key: id
        -- @cache: {strategy: if_exists}
        select * from (values (1, 10, 5.0, 'a'), (2, 20, 7.5, 'b')) as t(id, customer_id, amount, note)
    """,
    "models/customers.sql": """
        -- @cache: {strategy: if_exists}
        select 10 as id, 'ann' as name union all select 20, 'bob'
    """,
    "models/orders.sql": """
        -- @primary_key: id
        select r.id, r.customer_id, cast(r.amount as double) as amount, c.name
        from raw r join customers c on c.id = r.customer_id
    """,
    "models/revenue.sql": """
        with o as (select * from orders)
        select customer_id, name, sum(amount) as total,
               row_number() over (order by sum(amount) desc) as rank
        from o group by customer_id, name
    """,
    "models/report.sql": """
        select name, total from revenue
    """,
}


def built(make_project: MakeProject) -> ProjectDir:
    project = make_project(MODELS)
    project.run_ok()
    return project


def ran(project: ProjectDir, select: list[str] | None = None) -> set[str]:
    """The models a run of ``select`` (default: all) built."""
    result = project.run_ok(select)
    return {name for name, model in result.models.items() if model.status == "success"}


def check_plan_matches_run(plan: Plan, actually_ran: set[str]) -> None:
    assert set(plan.names("run")) <= actually_ran
    assert not set(plan.names("skip")) & actually_ran


def test_plan_of_an_unchanged_project_skips_everything_and_run_agrees(
    make_project: MakeProject,
) -> None:
    project = built(make_project)

    plan = plan_project(project.root)

    assert set(plan.names("skip")) == MODELS_NAMES
    assert {m.reason_kind for m in plan.models} == {"unchanged", "cached"}
    check_plan_matches_run(plan, ran(project))


MODELS_NAMES = {"raw", "customers", "orders", "revenue", "report"}


def test_plan_of_a_new_project_runs_everything_as_new(make_project: MakeProject) -> None:
    project = make_project(MODELS)

    plan = plan_project(project.root)

    assert set(plan.names("run")) == MODELS_NAMES
    assert {m.reason_kind for m in plan.models} == {"new"}
    check_plan_matches_run(plan, ran(project))


def test_code_change_runs_the_model_and_its_readers_as_upstream_changed(
    make_project: MakeProject,
) -> None:
    project = built(make_project)
    project.write(
        {"models/report.sql": "select name, total, total * 2 as double_total from revenue"}
    )
    project.write(
        {
            "models/revenue.sql": MODELS["models/revenue.sql"].replace(
                "sum(amount) as total", "sum(amount) + 0 as total"
            )
        }
    )

    plan = plan_project(project.root)

    assert plan.model("revenue").reason_kind == "code_changed"
    assert plan.model("report").reason_kind == "code_changed"
    assert plan.model("orders").action == "skip"
    assert plan.model("report").schema_changes[0].column == "double_total"
    assert not plan.breaking
    check_plan_matches_run(plan, ran(project))


def test_upstream_definition_change_is_named_as_such(make_project: MakeProject) -> None:
    project = built(make_project)
    project.write(
        {
            "models/customers.sql": MODELS["models/customers.sql"].replace("'bob'", "'bo'"),
        }
    )

    plan = plan_project(project.root)

    assert plan.model("customers").reason_kind == "code_changed"
    assert plan.model("orders").reason_kind == "upstream_changed"
    assert plan.model("report").reason_kind == "upstream_changed"
    assert plan.model("raw").action == "skip"
    check_plan_matches_run(plan, ran(project))


def test_removed_column_is_breaking_and_names_the_downstream_columns(
    make_project: MakeProject,
) -> None:
    project = built(make_project)
    project.write(
        {
            "models/orders.sql": """
                -- @primary_key: id
                select r.id, r.customer_id, c.name
                from raw r join customers c on c.id = r.customer_id
            """
        }
    )

    plan = plan_project(project.root, ["orders+"])

    change = plan.model("orders")
    assert [str(c) for c in change.schema_changes] == ["- amount"]
    [breaking] = change.breaking
    assert breaking.kind == "removed_column"
    assert breaking.column == "amount"
    assert ("revenue", "total") in {(a.model, a.column) for a in breaking.affected}
    assert ("report", "total") in {(a.model, a.column) for a in breaking.affected}
    assert plan.to_dict()["summary"]["breaking"] == 1
    check_plan_matches_run(plan, ran(project, ["orders+"]))


def test_renamed_column_is_reported_as_a_rename(make_project: MakeProject) -> None:
    project = built(make_project)
    project.write({"models/report.sql": "select name as customer_name, total from revenue"})

    plan = plan_project(project.root, ["report"])

    [breaking] = plan.model("report").breaking
    assert breaking.kind == "renamed_column"
    assert "renamed to customer_name" in breaking.detail
    check_plan_matches_run(plan, ran(project, ["report"]))


def test_narrowing_type_change_is_breaking_and_widening_is_not(
    make_project: MakeProject,
) -> None:
    project = built(make_project)
    project.write(
        {
            "models/orders.sql": MODELS["models/orders.sql"].replace(
                "cast(r.amount as double)", "cast(r.amount as integer)"
            )
        }
    )

    plan = plan_project(project.root, ["orders"])

    [breaking] = plan.model("orders").breaking
    assert breaking.kind == "narrowing_type"
    assert "DOUBLE -> INT" in breaking.detail
    check_plan_matches_run(plan, ran(project, ["orders"]))


def test_primary_key_change_is_breaking(make_project: MakeProject) -> None:
    project = built(make_project)
    project.write(
        {
            "models/orders.sql": MODELS["models/orders.sql"].replace(
                "-- @primary_key: id", "-- @primary_key: [id, customer_id]"
            )
        }
    )

    plan = plan_project(project.root)

    kinds = {b.kind for b in plan.breaking}
    assert kinds == {"key_change"}
    assert "revenue" in plan.breaking[0].affected_models
    check_plan_matches_run(plan, ran(project))


def test_new_upstream_data_makes_readers_may_run(make_project: MakeProject) -> None:
    project = make_project(
        {
            **MODELS,
            "models/raw.py": """
                from interlace import model

                @model(primary_key="id")
                def raw_py():
                    return [{"id": 1}]
            """,
            "models/from_py.sql": "select id from raw_py",
        }
    )
    project.run_ok()

    plan = plan_project(project.root)

    assert plan.model("raw_py").reason_kind == "outside_data"
    assert plan.model("raw_py").action == "run"
    assert plan.model("from_py").action == "may_run"
    check_plan_matches_run(plan, ran(project))


def test_missing_table_and_new_model_run(make_project: MakeProject) -> None:
    project = built(make_project)
    with duckdb.connect(str(project.db_path("dev"))) as db:
        db.execute("drop table main.report")
    project.write({"models/extra.sql": "select name from report"})

    plan = plan_project(project.root)

    assert plan.model("report").reason_kind == "table_missing"
    assert plan.model("extra").reason_kind == "new"
    check_plan_matches_run(plan, ran(project))


def test_sql_that_cannot_be_parsed_is_a_load_error_naming_the_file(
    make_project: MakeProject,
) -> None:
    project = built(make_project)
    project.write({"models/report.sql": "select name from revenue where ("})

    from interlace.errors import InterlaceError

    with pytest.raises(InterlaceError, match=r"models/report\.sql"):
        plan_project(project.root)


def test_a_statement_lineage_cannot_trace_is_unknown_and_plan_goes_on(
    make_project: MakeProject,
) -> None:
    project = built(make_project)
    project.write(
        {
            "models/touch.sql": """
                -- @materialize: none
                -- @dependencies: [report]
                create or replace table main.touched as select 1 as x
            """
        }
    )

    plan = plan_project(project.root)

    assert plan.model("touch").action == "run"
    assert plan.model("touch").schema_known is True


def test_a_backfill_window_is_due_for_incremental_models_only(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/events.sql": """
                -- @cache: {strategy: if_exists}
                select * from (values (1, 10), (2, 20)) as t(id, n)
            """,
            "models/totals.sql": """
                -- @strategy: append
                -- @cursor: id
                select id, n from events
            """,
            "models/summary.sql": "select count(*) as c from totals",
        }
    )
    project.run_ok()

    plan = plan_project(project.root, since="0", until="5")
    result = project.run_ok(since="0", until="5")

    assert plan.model("totals").reason_kind == "window_due"
    assert plan.model("events").action == "skip"
    assert plan.model("summary").action == "may_run"
    check_plan_matches_run(plan, {n for n, m in result.models.items() if m.status == "success"})


def test_selection_and_state_selectors_plan_only_what_they_choose(
    make_project: MakeProject,
) -> None:
    project = built(make_project)
    project.run_ok(env="prod")
    project.write({"models/report.sql": "select name, total, 1 as one from revenue"})

    plan = plan_project(project.root, ["state:modified+"], state_env="prod")

    assert [m.model for m in plan.models] == ["report"]
    assert plan.model("report").reason_kind == "code_changed"


def test_a_type_change_sqlglot_infers_from_an_expression_is_breaking_downstream(
    make_project: MakeProject,
) -> None:
    project = built(make_project)
    project.write(
        {
            "models/revenue.sql": MODELS["models/revenue.sql"].replace(
                "sum(amount) as total", "string_agg(cast(amount as varchar), ',') as total"
            )
        }
    )

    plan = plan_project(project.root, ["revenue+"])

    assert [str(c) for c in plan.model("revenue").schema_changes] == ["~ total DOUBLE -> TEXT"]
    [breaking] = plan.model("revenue").breaking
    assert breaking.kind == "narrowing_type"
    assert ("report", "total") in {(a.model, a.column) for a in breaking.affected}
    # the reader passes the column on: its table changes type too
    assert [str(c) for c in plan.model("report").schema_changes] == ["~ total DOUBLE -> TEXT"]
    assert "unsafe type change(s): total" in (plan.model("revenue").schema_error or "")
    assert (
        plan_project(project.root, ["revenue+"], full_refresh=True).model("revenue").schema_error
        is None
    )
    # schema_mode safe refuses the change (as the plan said) until the table is rebuilt
    assert project.run(["revenue+"]).models["revenue"].status == "failed"
    result = project.run_ok(["revenue+"], full_refresh=True)
    check_plan_matches_run(plan, {n for n, m in result.models.items() if m.status == "success"})
    assert project.columns("report")["total"] == "VARCHAR"


def test_an_inferred_type_of_the_same_family_is_no_change(make_project: MakeProject) -> None:
    """DuckDB's sum of integers is a HUGEINT where sqlglot infers BIGINT: one family, no change."""
    models = dict(MODELS)
    models["models/revenue.sql"] = MODELS["models/revenue.sql"].replace(
        "sum(amount) as total,", "sum(amount) as total, sum(customer_id) as ids,"
    )
    project = make_project(models)
    project.run_ok()
    project.write(
        {
            "models/revenue.sql": models["models/revenue.sql"].replace(
                "sum(customer_id) as ids", "sum(customer_id) + 1 as ids"
            )
        }
    )

    plan = plan_project(project.root, ["revenue+"])

    assert plan.model("revenue").action == "run"
    assert plan.model("revenue").schema_changes == ()
    assert plan.breaking == []


# expressions whose type sqlglot infers (each checked against the type DuckDB gives it)
TYPED_EXPRESSIONS = [
    "id / 2",
    "id // 2",
    "sum(amount)",
    "date_trunc('month', d)",
    "extract(year from ts)",
    "hash(id)",
    "round(amount, 1)",
    "case when id > 1 then 1 else 0.5 end",
    "now()",
    "strftime(ts, '%Y')",
    "list(id)",
    "string_agg(name, ',')",
    "epoch(ts)",
    "date_diff('day', d, d)",
    "d + interval 1 day",
    "d + 1",
    "md5(name)",
    "coalesce(id, 0)",
    "greatest(id, 2)",
    "count(distinct id)",
    "min(d)",
    "abs(x)",
    "id::varchar || 'a'",
    "ts - ts",
    "id * 1.5",
    "not b",
    "id in (1, 2)",
    "bool_or(b)",
    "any_value(id)",
    "nullif(id, 0)",
    "if(b, 1, 2)",
    "concat(name, id)",
    "year(d)",
    "last_day(d)",
    "current_date",
    "sqrt(id)",
    "floor(x)",
    "sign(x)",
    "id % 3",
    "stddev(x)",
    "avg(amount)",
    "count(*) filter (where b)",
    "length(name)",
    "lower(name)",
    "substring(name, 1, 2)",
    "name like 'a%'",
    "starts_with(name, 'a')",
    "max(ts)",
    "sum(x)",
    "count(*)",
]


def test_plan_of_an_unchanged_project_sees_no_type_change_in_any_expression(
    make_project: MakeProject,
) -> None:
    columns = ",\n".join(f"{e} as c{i}" for i, e in enumerate(TYPED_EXPRESSIONS))
    project = make_project(
        {
            "models/base.sql": """
                select 1 as id, 2.5::decimal(18, 2) as amount, 'a' as name,
                       timestamp '2024-01-02 03:04:05' as ts, date '2024-01-02' as d,
                       1.5::double as x, true as b
            """,
            "models/typed.sql": f"select {columns} from base group by all",
            "models/reader.sql": "select * from typed",
        }
    )
    project.run_ok()
    project.write({"models/typed.sql": f"select {columns} from base where id > 0 group by all"})

    plan = plan_project(project.root, ["typed+"])

    assert plan.model("typed").action == "run"
    assert {m.model: m.schema_changes for m in plan.models if m.schema_changes} == {}
    assert plan.breaking == []


def test_a_type_change_of_a_column_holding_only_nulls_is_no_refusal_as_the_run_agrees(
    make_project: MakeProject,
) -> None:
    """schema_mode safe lets a column that holds no value yet take another type: the plan
    says so too, asking the table (and still predicts a refusal where a value would be lost)."""
    project = make_project(
        {
            "models/events.sql": """
                select 1 as id, cast(null as integer) as label, 5 as amount
            """
        }
    )
    project.run_ok()
    project.write(
        {
            "models/events.sql": """
                select 1 as id, 'first' as label, cast(5 as varchar) as amount
            """
        }
    )

    plan = plan_project(project.root)

    changes = {str(c) for c in plan.model("events").schema_changes}
    assert changes == {"~ label INTEGER -> TEXT", "~ amount INTEGER -> TEXT"}
    error = plan.model("events").schema_error or ""
    assert "amount" in error and "label" not in error  # amount holds a value, label none
    project.write({"models/events.sql": "select 1 as id, 'first' as label, 5 as amount"})
    assert plan_project(project.root).model("events").schema_error is None
    result = project.run_ok()
    assert result.models["events"].status == "success"
    assert project.columns("events")["label"] == "VARCHAR"
