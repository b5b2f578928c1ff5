"""`pip install interlace-core` is enough to run a DuckDB project from Python, and a project
that needs another distribution says which one to install (ARCHITECTURE: packages).

The nox session ``package(package='interlace-core')`` runs these with core alone installed;
in the workspace the other distributions are installed, so their entry points are hidden here.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoints
from importlib.metadata import entry_points as installed_entry_points
from typing import TYPE_CHECKING, Any

import interlace.plugins
import pytest
from interlace.errors import ConfigError, ProjectError

if TYPE_CHECKING:
    from conftest import MakeProject


def test_core_alone_runs_a_duckdb_project_from_python(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/orders.sql": """
                SELECT * FROM (VALUES (1, 'ann', 10.0), (2, 'bob', 5.5), (3, 'ann', 2.5))
                    AS t(id, customer, amount)
            """,
            "models/totals.py": """
                from interlace import model

                @model(strategy="merge_by_key", primary_key="customer")
                def totals(orders):
                    return orders.group_by("customer").aggregate(total=orders.amount.sum())
            """,
        }
    )
    result = project.run_ok()
    assert result.models["totals"].stats == {"inserted": 2}  # the first run creates the table
    assert project.rows("totals", "customer") == [
        {"customer": "ann", "total": 12.5},
        {"customer": "bob", "total": 5.5},
    ]


@pytest.fixture
def without_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if only interlace-core were installed: no connection, state or check plugins."""
    hidden = {interlace.plugins.CONNECTION_GROUP, interlace.plugins.STATE_GROUP}

    def entry_points(**selection: Any) -> EntryPoints:
        if selection.get("group") in hidden:
            return EntryPoints(())
        return installed_entry_points(**selection)

    monkeypatch.setattr(interlace.plugins, "entry_points", entry_points)
    monkeypatch.setattr(interlace.plugins, "check_runner", lambda: None)
    caches = (interlace.plugins.connection_type, interlace.plugins.state_store_type)
    for cache in caches:
        cache.cache_clear()
    yield
    for cache in caches:
        cache.cache_clear()


POSTGRES = """\
name: needs_postgres
connections:
  default:
    type: postgres
    host: 127.0.0.1
    database: warehouse
"""


@pytest.mark.usefixtures("without_plugins")
def test_a_postgres_connection_without_interlace_connections_says_what_to_install(
    make_project: MakeProject,
) -> None:
    project = make_project({"models/a.sql": "SELECT 1 AS a"}, config=POSTGRES)
    with pytest.raises(ConfigError) as info:
        project.load()
    error = info.value
    assert "connection type 'postgres' is provided by interlace-connections" in error.message
    assert "which is not installed" in error.message
    assert error.hint == "install it: pip install interlace-connections"
    assert (error.file or "").endswith("config.yaml")


@pytest.mark.usefixtures("without_plugins")
def test_a_postgres_state_store_without_interlace_connections_says_what_to_install(
    make_project: MakeProject,
) -> None:
    config = """\
    name: shared_state
    connections:
      default: {type: duckdb, path: "data/{env}.duckdb"}
    state:
      type: postgres
    """
    project = make_project({"models/a.sql": "SELECT 1 AS a"}, config=config)
    with pytest.raises(ConfigError) as info:
        project.run()
    assert "state store type 'postgres' is provided by interlace-connections" in str(info.value)
    assert info.value.hint == "install it: pip install interlace-connections"


@pytest.mark.usefixtures("without_plugins")
def test_an_unknown_connection_type_lists_the_available_ones(make_project: MakeProject) -> None:
    config = POSTGRES.replace("type: postgres", "type: postgress")
    project = make_project({"models/a.sql": "SELECT 1 AS a"}, config=config)
    with pytest.raises(ConfigError, match="unknown connection type 'postgress'") as info:
        project.load()
    assert info.value.hint == "available types: duckdb"


@pytest.mark.usefixtures("without_plugins")
def test_declared_checks_without_interlace_quality_ask_to_install_it(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {"models/orders.sql": "-- @quality_checks: [{not_null: id}]\nSELECT 1 AS id\n"}
    )
    with pytest.raises(ProjectError) as info:
        project.load()
    assert info.value.model == "orders"
    assert info.value.hint == "pip install interlace-quality"
