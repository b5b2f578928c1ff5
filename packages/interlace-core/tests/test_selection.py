"""Model selection: names, +ancestors, descendants+, tags, globs, exclude (SPEC §2.5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from interlace.errors import GraphError, SelectionError
from interlace.graph import Graph, build_graph, select

if TYPE_CHECKING:
    from conftest import MakeProject

#   raw -> stg_orders -> orders -> revenue
#      \-> stg_users  -> users  --\
#                  orders ---------> report        lonely
DEPENDENCIES = {
    "raw": [],
    "stg_orders": ["raw"],
    "stg_users": ["raw"],
    "orders": ["stg_orders"],
    "users": ["stg_users"],
    "revenue": ["orders"],
    "report": ["orders", "users"],
    "lonely": [],
}
TAGS = {"orders": ("finance",), "revenue": ("finance", "daily"), "users": ("pii",)}


@pytest.fixture
def graph() -> Graph:
    return build_graph(DEPENDENCIES)


def pick(graph: Graph, *selectors: str, exclude: tuple[str, ...] = ()) -> list[str]:
    """Selected names; also checks they come back in the graph's topological order."""
    names = select(
        graph, list(selectors), list(exclude), tags=TAGS, aliases={"main.orders": "orders"}
    )
    assert names == [n for n in graph.order if n in names]
    return names


def test_graph_order_is_topological_and_deterministic(graph: Graph) -> None:
    order = list(graph.order)
    for name, deps in DEPENDENCIES.items():
        for dep in deps:
            assert order.index(dep) < order.index(name)
    assert build_graph(dict(reversed(DEPENDENCIES.items()))).order == graph.order


def test_no_selector_selects_every_model_in_order(graph: Graph) -> None:
    assert pick(graph) == list(graph.order)


def test_plain_name_selects_only_that_model(graph: Graph) -> None:
    assert pick(graph, "orders") == ["orders"]
    assert pick(graph, "main.orders") == ["orders"]


def test_plus_prefix_adds_ancestors(graph: Graph) -> None:
    assert pick(graph, "+orders") == ["raw", "stg_orders", "orders"]
    assert set(pick(graph, "+report")) == {
        "raw",
        "stg_orders",
        "stg_users",
        "orders",
        "users",
        "report",
    }


def test_plus_suffix_adds_descendants(graph: Graph) -> None:
    assert set(pick(graph, "orders+")) == {"orders", "report", "revenue"}
    assert pick(graph, "stg_users+") == ["stg_users", "users", "report"]


def test_plus_on_both_sides_adds_ancestors_and_descendants(graph: Graph) -> None:
    assert set(pick(graph, "+orders+")) == {
        "raw",
        "stg_orders",
        "orders",
        "revenue",
        "report",
    }


def test_tag_selector_and_tag_with_descendants(graph: Graph) -> None:
    assert pick(graph, "tag:finance") == ["orders", "revenue"]
    assert pick(graph, "tag:daily") == ["revenue"]
    assert pick(graph, "tag:pii+") == ["users", "report"]


def test_glob_selects_matching_names(graph: Graph) -> None:
    assert pick(graph, "stg_*") == ["stg_orders", "stg_users"]
    assert set(pick(graph, "stg_*+")) == {
        "stg_orders",
        "stg_users",
        "orders",
        "users",
        "report",
        "revenue",
    }


def test_several_selectors_are_a_union(graph: Graph) -> None:
    assert set(pick(graph, "lonely", "revenue")) == {"lonely", "revenue"}


def test_exclude_removes_from_the_selection(graph: Graph) -> None:
    assert set(pick(graph, "+report", exclude=("stg_*",))) == {"raw", "orders", "users", "report"}
    assert "raw" not in pick(graph, exclude=("raw",))
    assert pick(graph, "orders+", exclude=("tag:finance",)) == ["report"]


def test_selector_matching_nothing_raises_with_a_did_you_mean_hint(graph: Graph) -> None:
    with pytest.raises(SelectionError) as info:
        pick(graph, "revenu")
    assert "'revenu'" in str(info.value)
    assert "did you mean revenue?" in str(info.value)


def test_unknown_tag_lists_the_known_tags(graph: Graph) -> None:
    with pytest.raises(SelectionError) as info:
        pick(graph, "tag:financ")
    assert "daily, finance, pii" in str(info.value)


def test_exclude_matching_nothing_is_an_error_too(graph: Graph) -> None:
    with pytest.raises(SelectionError, match="stg_order'"):
        pick(graph, exclude=("stg_order",))


def test_bare_plus_is_rejected(graph: Graph) -> None:
    with pytest.raises(SelectionError, match="names no model"):
        pick(graph, "+")


def test_build_graph_reports_a_cycle_in_data_flow_order() -> None:
    with pytest.raises(GraphError) as info:
        build_graph({"a": ["b"], "b": ["a"], "c": []})
    assert "dependency cycle: a -> b -> a" in str(info.value)


def test_build_graph_rejects_unknown_and_self_dependencies() -> None:
    with pytest.raises(GraphError, match="unknown model 'ghost'"):
        build_graph({"a": ["ghost"]})
    with pytest.raises(GraphError, match="depends on itself"):
        build_graph({"a": ["a"]})


SELECTION_PROJECT = {
    "models/staging.sql": """
        -- @name: stg_orders
        SELECT 1 AS id

        -- @name: stg_users
        SELECT 1 AS id
    """,
    "models/orders.sql": "-- @tags: [finance]\nSELECT * FROM stg_orders",
    "models/revenue.sql": "-- @tags: [finance]\nSELECT count(*) AS n FROM orders",
    "models/users.sql": "SELECT * FROM stg_users",
}


def test_run_with_selection_runs_only_the_selected_models(make_project: MakeProject) -> None:
    project = make_project(SELECTION_PROJECT)
    assert list(project.run_ok(["+orders"]).models) == ["stg_orders", "orders"]
    assert set(project.relations()) == {"main.stg_orders", "main.orders"}
    assert list(project.run_ok(["orders+"]).models) == ["orders", "revenue"]
    assert list(project.run_ok(["tag:finance"], exclude=["revenue"]).models) == ["orders"]
    assert list(project.run_ok(["stg_*"]).models) == ["stg_orders", "stg_users"]
    assert set(project.run_ok(["+revenue+"]).models) == {"stg_orders", "orders", "revenue"}


def test_run_with_a_selection_that_matches_nothing_raises_before_running(
    make_project: MakeProject,
) -> None:
    project = make_project(SELECTION_PROJECT)
    with pytest.raises(SelectionError) as info:
        project.run(["revenu"])
    assert "did you mean revenue?" in str(info.value)
    assert not project.db_path().exists()


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    """Random DAGs: node i may only depend on nodes before it, so there is never a cycle."""
    size = draw(st.integers(min_value=1, max_value=12))
    names = [f"m{i}" for i in range(size)]
    return {
        name: draw(st.lists(st.sampled_from(names[:i]), unique=True)) if i else []
        for i, name in enumerate(names)
    }


@settings(max_examples=60, deadline=None)
@given(dags(), st.data())
def test_selection_operators_match_graph_walks_on_any_dag(
    dependencies: dict[str, list[str]], data: st.DataObject
) -> None:
    graph = build_graph(dependencies)
    name = data.draw(st.sampled_from(sorted(dependencies)))
    for parent, deps in dependencies.items():
        for dep in deps:
            assert graph.order.index(dep) < graph.order.index(parent)
    ancestors, descendants = graph.ancestors(name), graph.descendants(name)
    assert not ancestors & descendants
    assert set(select(graph, [name])) == {name}
    assert set(select(graph, [f"+{name}"])) == {name} | ancestors
    assert set(select(graph, [f"{name}+"])) == {name} | descendants
    both = select(graph, [f"+{name}+"])
    assert set(both) == {name} | ancestors | descendants
    assert both == [n for n in graph.order if n in both]
    assert set(select(graph, None, [f"{name}+"])) == set(graph.order) - {name} - descendants
