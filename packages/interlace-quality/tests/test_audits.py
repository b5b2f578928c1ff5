"""A check that reads a model built from the checked model runs after both (it audits, it
does not reorder): a ``relationships`` check from ``stg_orders`` to ``customers``, which is
built from ``stg_orders``, is no dependency cycle."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import MakeProject, QualityProject

MODELS = """\
-- @name: stg_orders
-- @quality_checks:
--   - not_null: customer_id
--   - relationships: {column: customer_id, to: customers, field: customer_id}
select * from raw_orders

-- @name: customers
select distinct customer_id from stg_orders where customer_id in (select id from known)
"""


def _project(make_project: MakeProject, orders: str) -> QualityProject:
    return make_project(
        {
            "models/raw.sql": (
                f"-- @name: raw_orders\nselect * from (values {orders}) t(order_id, customer_id)"
                "\n\n-- @name: known\nselect * from (values (1), (2)) t(id)\n"
            ),
            "models/models.sql": MODELS,
        }
    )


def test_a_relationships_check_on_a_model_its_target_reads_runs_after_both(
    make_project: MakeProject,
) -> None:
    project = _project(make_project, "(1, 1), (2, 2), (3, 1)")
    loaded = project.load()
    assert "customers" not in loaded.models["stg_orders"].depends_on  # no cycle
    assert [(a.model, a.after) for a in loaded.audits] == [("stg_orders", ("customers",))]
    result, events = project.run_events()
    assert result.success
    checks = {c.name: c.status for c in result["stg_orders"].checks}
    assert checks == {
        "not_null(customer_id)": "passed",
        "relationships(customer_id -> customers.customer_id)": "passed",
    }
    names = [type(e).__name__ + ":" + getattr(e, "model", "") for e in events]
    audit = names.index("CheckFinished:stg_orders", names.index("ModelFinished:customers"))
    assert audit > names.index("ModelFinished:customers")  # it ran once customers was built


def test_a_failing_audit_fails_the_run_and_keeps_the_built_tables(
    make_project: MakeProject,
) -> None:
    project = _project(make_project, "(1, 1), (2, 9)")
    result = project.run()
    assert not result.success
    assert result["stg_orders"].status == "success"  # built: an audit does not hold it back
    assert not result["stg_orders"].ok
    (failed,) = [c for c in result["stg_orders"].checks if c.status != "passed"]
    assert failed.name == "relationships(customer_id -> customers.customer_id)"
    assert failed.failing_rows == 1
    assert failed.sample == [{"order_id": 2, "customer_id": 9}]
    assert project.count("stg_orders") == 2
    stored = {(s.result.model, s.result.name): s.result.status for s in project.stored()}
    assert stored[("stg_orders", "relationships(customer_id -> customers.customer_id)")] == (
        "failed"
    )


def test_an_audit_is_not_run_when_a_model_it_reads_failed(make_project: MakeProject) -> None:
    project = _project(make_project, "(1, 1)")
    project.write(
        {
            "models/models.sql": MODELS.replace(
                "select distinct customer_id", "select distinct customer_id, cast('x' as int) as x"
            )
        }
    )
    result = project.run()
    assert result["customers"].status == "failed"
    assert [c.name for c in result["stg_orders"].checks] == ["not_null(customer_id)"]
