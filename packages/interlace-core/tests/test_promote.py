"""Promote (SPEC §7.4): copy selected models' tables between environments inside the engine and
record them in the target environment's state."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from interlace.api import open_state
from interlace.fingerprint import fingerprints
from interlace.promote import PromoteError, _Promotion, promote

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir

MODELS = {
    # a root reading a file of the project; the rows do not depend on the environment
    "models/raw_orders.py": """
        import json

        from interlace import model


        @model
        def raw_orders(context):
            return json.loads((context.project_root / "orders.json").read_text())
    """,
    "models/orders.sql": """
        SELECT id, customer, amount FROM raw_orders WHERE amount > 0
    """,
    "models/revenue.sql": """
        SELECT customer, sum(amount) AS total FROM orders GROUP BY customer
    """,
    "models/big_orders.sql": """
        -- @materialize: ephemeral
        SELECT * FROM orders WHERE amount >= 100
    """,
    "models/big_customers.sql": """
        SELECT DISTINCT customer FROM big_orders
    """,
    "models/orders_view.sql": """
        -- @materialize: view
        SELECT id, amount * 2 AS doubled FROM orders
    """,
}

DEV_ORDERS = [
    {"id": 1, "customer": "ann", "amount": 50},
    {"id": 2, "customer": "bob", "amount": 150},
    {"id": 3, "customer": "ann", "amount": 100},
    {"id": 4, "customer": "cat", "amount": 0},
]
PROD_ORDERS = [{"id": 8, "customer": "old", "amount": 8}]


def write_orders(project: ProjectDir, rows: list[dict[str, Any]]) -> None:
    (project.root / "orders.json").write_text(json.dumps(rows), encoding="utf-8")


def built_in_dev(make_project: MakeProject, files: dict[str, str] | None = None) -> ProjectDir:
    project = make_project({**MODELS, **(files or {})})
    write_orders(project, DEV_ORDERS)
    project.run_ok(env="dev")
    return project


def test_promote_copies_the_selected_tables_with_their_rows(make_project: MakeProject) -> None:
    project = built_in_dev(make_project)

    result = promote(project.root, "dev", "prod", ["orders", "revenue"])

    assert result.rows == {"orders": 3, "revenue": 2}
    assert project.sql("SELECT * FROM main.orders ORDER BY id", env="prod") == [
        (1, "ann", 50),
        (2, "bob", 150),
        (3, "ann", 100),
    ]
    assert project.sql("SELECT * FROM main.revenue ORDER BY customer", env="prod") == [
        ("ann", 150),
        ("bob", 150),
    ]
    assert set(project.relations("prod")) == {"main.orders", "main.revenue"}
    assert project.columns("orders", env="prod") == project.columns("orders", env="dev")


def test_promote_replaces_what_the_target_had(make_project: MakeProject) -> None:
    project = make_project(MODELS)
    write_orders(project, PROD_ORDERS)
    project.run_ok(env="prod")
    write_orders(project, DEV_ORDERS)
    project.run_ok(env="dev")

    promote(project.root, "dev", "prod", ["+revenue"])

    assert project.sql("SELECT * FROM main.revenue ORDER BY customer", env="prod") == [
        ("ann", 150),
        ("bob", 150),
    ]
    assert project.count("main.raw_orders", env="prod") == 4


def test_promote_all_recreates_views_and_skips_ephemeral_models(
    make_project: MakeProject,
) -> None:
    project = built_in_dev(make_project)

    result = promote(project.root, "dev", "prod", all_models=True)

    actions = {s.model: s.action for s in result.plan.steps}
    assert actions == {
        "raw_orders": "copy",
        "orders": "copy",
        "revenue": "copy",
        "big_orders": "skip",
        "big_customers": "copy",
        "orders_view": "view",
    }
    skipped = result.plan.of("skip")[0]
    assert skipped.reason == "ephemeral: it has no table (inlined into its consumers)"
    assert project.relations("prod") == {
        "main.raw_orders": "table",
        "main.orders": "table",
        "main.revenue": "table",
        "main.big_customers": "table",
        "main.orders_view": "view",
    }
    # the view reads prod's own tables
    assert project.sql("SELECT * FROM main.orders_view ORDER BY id", env="prod") == [
        (1, 100),
        (2, 300),
        (3, 200),
    ]
    view_sql = project.sql("SELECT sql FROM duckdb_views() WHERE view_name = 'orders_view'", "prod")
    assert "dev" not in view_sql[0][0]


def test_sources_only_promotes_root_models(make_project: MakeProject) -> None:
    project = built_in_dev(make_project)

    result = promote(project.root, "dev", "prod", sources_only=True)

    assert [s.model for s in result.plan.steps] == ["raw_orders"]
    assert set(project.relations("prod")) == {"main.raw_orders"}
    assert project.count("main.raw_orders", env="prod") == 4


def test_sources_only_narrows_a_selection_to_its_roots(make_project: MakeProject) -> None:
    project = built_in_dev(make_project)

    result = promote(project.root, "dev", "prod", ["+revenue"], sources_only=True)

    assert [s.model for s in result.plan.steps] == ["raw_orders"]


def test_dry_run_returns_the_plan_and_touches_nothing(make_project: MakeProject) -> None:
    project = built_in_dev(make_project)

    result = promote(project.root, "dev", "prod", ["orders+"], dry_run=True)

    assert result.dry_run
    assert {s.model: s.action for s in result.plan.steps} == {
        "orders": "copy",
        "revenue": "copy",
        "big_orders": "skip",
        "big_customers": "copy",
        "orders_view": "view",
    }
    assert result.plan.where("dev", "default") == "'default' (data/dev.duckdb)"
    assert result.plan.where("prod", "default") == "'default' (data/prod.duckdb)"
    assert not project.db_path("prod").exists()
    assert open_state(project.load("prod")).model_states("prod") == {}


def test_target_state_knows_the_promoted_tables(make_project: MakeProject) -> None:
    project = built_in_dev(make_project)

    result = promote(project.root, "dev", "prod", all_models=True)

    prod = project.load("prod")
    store = open_state(prod)
    try:
        states = store.model_states("prod")
        expected = fingerprints(prod)
        assert {n: s.fingerprint for n, s in states.items()} == {
            n: expected[n] for n in ("raw_orders", "orders", "revenue", "big_customers")
        } | {"orders_view": expected["orders_view"]}
        assert states["orders"].data_version == 1
        assert states["revenue"].upstream_versions == {"orders": 1}
        assert states["big_customers"].upstream_versions == {"orders": 1}
        (version,) = store.schema_versions("prod", "orders")
        assert version.columns == [("id", "BIGINT"), ("customer", "VARCHAR"), ("amount", "BIGINT")]
        (run,) = store.list_runs()[:1]
        assert run.run_id == result.run_id
        assert run.env == "prod" and run.status == "success"
        assert run.selection.startswith("promote --from dev")
    finally:
        store.close()


def test_a_run_in_the_target_after_promote_skips_what_did_not_change(
    make_project: MakeProject,
) -> None:
    project = built_in_dev(make_project)
    promote(project.root, "dev", "prod", all_models=True)

    result = project.run_ok(env="prod")

    # the root reads its file again and finds the promoted rows: nothing downstream rebuilds
    assert result["raw_orders"].status == "success"
    assert result["raw_orders"].message == "no data change"
    for name in ("orders", "revenue", "big_customers"):
        assert result[name].status == "skipped", name
        assert result[name].skip_reason == "unchanged since the last run"


def test_promoting_again_moves_the_data_version(make_project: MakeProject) -> None:
    project = built_in_dev(make_project)
    promote(project.root, "dev", "prod", ["orders"])
    write_orders(project, [{"id": 5, "customer": "eve", "amount": 30}])
    project.run_ok(env="dev")

    promote(project.root, "dev", "prod", ["orders"])

    assert project.sql("SELECT * FROM main.orders", env="prod") == [(5, "eve", 30)]
    store = open_state(project.load("prod"))
    try:
        assert store.model_states("prod")["orders"].data_version == 2
    finally:
        store.close()
    # revenue in prod was built before: its upstream changed, so the next run rebuilds it
    assert project.run_ok(["revenue"], env="prod")["revenue"].status == "success"


def test_incremental_model_takes_its_watermark_along(make_project: MakeProject) -> None:
    project = built_in_dev(
        make_project,
        {
            "models/order_log.sql": """
                -- @strategy: append
                -- @cursor: id
                SELECT id, amount FROM orders
            """
        },
    )

    promote(project.root, "dev", "prod", ["orders", "order_log"])

    store = open_state(project.load("prod"))
    try:
        watermark = store.get_watermark("prod", "order_log")
    finally:
        store.close()
    assert watermark is not None
    assert (watermark.cursor_column, watermark.value) == ("id", "3")
    # prod continues after the promoted rows instead of appending them again
    write_orders(project, [*DEV_ORDERS, {"id": 9, "customer": "eve", "amount": 90}])
    result = project.run_ok(["+order_log"], env="prod", exclude=["revenue"])
    assert result["order_log"].stats == {"inserted": 1}
    assert project.sql("SELECT id FROM main.order_log ORDER BY id", env="prod") == [
        (1,),
        (2,),
        (3,),
        (9,),
    ]


def test_tables_of_one_connection_are_promoted_in_one_transaction(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(MODELS)
    write_orders(project, PROD_ORDERS)
    project.run_ok(env="prod")
    write_orders(project, DEV_ORDERS)
    project.run_ok(env="dev")
    create = _Promotion._create
    calls: list[int] = []

    def fail_on_the_second(*args: Any) -> int:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return create(*args)

    monkeypatch.setattr(_Promotion, "_create", staticmethod(fail_on_the_second))

    with pytest.raises(PromoteError, match="disk full") as raised:
        promote(project.root, "dev", "prod", ["orders", "revenue"])

    assert "nothing was changed on that connection" in str(raised.value)
    assert project.sql("SELECT * FROM main.orders", env="prod") == [(8, "old", 8)]
    assert project.sql("SELECT * FROM main.revenue", env="prod") == [("old", 8)]
    store = open_state(project.load("prod"))
    try:
        assert store.list_runs()[0].status == "failed"
        assert store.model_states("prod")["orders"].data_version == 1  # from the prod run only
    finally:
        store.close()


def test_model_on_a_shared_connection_is_skipped(make_project: MakeProject) -> None:
    config = """\
name: promote_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
  ref:
    type: duckdb
    path: data/reference.duckdb
    shared: true
"""
    project = make_project(
        {
            **MODELS,
            "models/countries.sql": """
                -- @connection: ref
                SELECT 'NL' AS code
            """,
        },
        config=config,
    )
    write_orders(project, DEV_ORDERS)
    project.run_ok(env="dev")

    result = promote(project.root, "dev", "prod", ["countries", "orders"])

    (skipped,) = result.plan.of("skip")
    assert skipped.model == "countries"
    assert skipped.reason == "same database in both environments ('ref' (data/reference.duckdb))"
    assert result.rows == {"orders": 3}


# ---------------------------------------------------------------------------- refusals


def test_same_environment_is_refused(make_project: MakeProject) -> None:
    project = built_in_dev(make_project)

    with pytest.raises(PromoteError, match="--from and --to are both 'dev'"):
        promote(project.root, "dev", "dev", ["orders"])


def test_unknown_environment_is_refused_with_a_suggestion(make_project: MakeProject) -> None:
    project = built_in_dev(make_project)

    with pytest.raises(PromoteError, match="unknown environment 'prdo'") as raised:
        promote(project.root, "dev", "prdo", ["orders"])

    assert "did you mean 'prod'?" in str(raised.value)
    assert not (project.root / "data" / "prdo.duckdb").exists()


def test_environments_with_an_overlay_or_a_run_are_known(make_project: MakeProject) -> None:
    project = built_in_dev(make_project)
    project.write({"config.qa.yaml": "executor:\n  max_workers: 1\n"})
    project.run_ok(["raw_orders"], env="sandbox")

    assert promote(project.root, "dev", "qa", ["orders"]).rows == {"orders": 3}
    assert promote(project.root, "sandbox", "dev", ["raw_orders"]).rows == {"raw_orders": 4}


def test_missing_source_table_is_refused_before_anything_is_copied(
    make_project: MakeProject,
) -> None:
    project = make_project(MODELS)
    write_orders(project, DEV_ORDERS)
    project.run_ok(["raw_orders", "orders"], env="dev")

    with pytest.raises(PromoteError) as raised:
        promote(project.root, "dev", "prod", ["orders", "revenue"])

    error = raised.value
    assert error.message == (
        "1 table(s) to promote do not exist in env 'dev': main.revenue ('default' "
        "(data/dev.duckdb))"
    )
    assert error.hint == "build them there first: interlace run --env dev revenue"
    assert not project.db_path("prod").exists()


def test_source_environment_that_never_ran_has_no_tables(make_project: MakeProject) -> None:
    project = make_project(MODELS)
    write_orders(project, DEV_ORDERS)
    project.run_ok(env="prod")

    with pytest.raises(PromoteError, match="do not exist in env 'dev'"):
        promote(project.root, "dev", "prod", ["orders"])
    assert not project.db_path("dev").exists()


def test_read_only_target_connection_is_refused(make_project: MakeProject) -> None:
    project = built_in_dev(make_project)
    project.write({"config.prod.yaml": "connections:\n  default:\n    access: read\n"})

    with pytest.raises(PromoteError) as raised:
        promote(project.root, "dev", "prod", ["orders"])

    assert raised.value.message == (
        "connection 'default' is read-only in env 'prod' (access: read); promote writes "
        "main.orders there"
    )
    assert not project.db_path("prod").exists()


def test_selection_is_required(make_project: MakeProject) -> None:
    project = built_in_dev(make_project)

    with pytest.raises(PromoteError, match="name the models to promote"):
        promote(project.root, "dev", "prod")
    with pytest.raises(PromoteError, match="--all or --sources-only, not both"):
        promote(project.root, "dev", "prod", all_models=True, sources_only=True)
    with pytest.raises(PromoteError, match="model names or --all, not both"):
        promote(project.root, "dev", "prod", ["orders"], all_models=True)
