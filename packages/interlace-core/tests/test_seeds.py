"""Seeds: CSV files under ``seeds/`` become table models, rebuilt when the file changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from interlace.errors import ConfigError, ProjectError

if TYPE_CHECKING:
    from conftest import MakeProject

CONFIG = """\
name: seeded
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
seeds:
  schema: raw
  column_types:
    customers: {zip: string, signed_up: date}
  descriptions:
    customers: People who bought something.
"""
# one seed in another schema than the others
WITH_COUNTRIES = CONFIG.replace(
    "  schema: raw\n", "  schema: raw\n  schemas:\n    countries: ref\n"
)

CUSTOMERS = """\
id,name,zip,signed_up
1,Ann,01234,2024-01-05
2,Bob,99999,2024-02-11
"""


def test_a_csv_in_seeds_becomes_a_table_that_models_read_by_name(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "seeds/customers.csv": CUSTOMERS,
            "seeds/lookups/countries.csv": "code,name\nNL,Netherlands\n",
            "models/customer_names.sql": "select name, zip from customers order by id",
        },
        config=WITH_COUNTRIES,
    )
    project.run_ok()
    # column_types reach the CSV reader: the zip code keeps its leading zero
    assert project.columns("customers", schema="raw") == {
        "id": "BIGINT",
        "name": "VARCHAR",
        "zip": "VARCHAR",
        "signed_up": "DATE",
    }
    assert project.rows("customer_names", order_by="name") == [
        {"name": "Ann", "zip": "01234"},
        {"name": "Bob", "zip": "99999"},
    ]
    assert project.values("ref.countries") == [("NL", "Netherlands")]
    spec = project.load().models["customers"]
    assert (spec.file, spec.schema, spec.materialize, spec.strategy) == (
        "seeds/customers.csv",
        "raw",
        "table",
        "replace",
    )
    assert spec.description == "People who bought something."
    assert project.load().models["customer_names"].depends_on == ("customers",)


def test_an_unchanged_seed_is_skipped_and_an_edited_one_rebuilds_with_its_readers(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "seeds/customers.csv": CUSTOMERS,
            "models/customer_count.sql": "select count(*) as n from customers",
        },
        config=CONFIG,
    )
    project.run_ok()
    again = project.run_ok()
    assert again["customers"].skip_reason == "seed file unchanged since the last run"
    assert again["customer_count"].status == "skipped"

    project.write({"seeds/customers.csv": CUSTOMERS + "3,Cy,00001,2024-03-01\n"})
    edited = project.run_ok()
    assert edited["customers"].status == "success"
    assert edited["customer_count"].status == "success"
    assert project.values("customer_count") == [(3,)]


def test_seeds_run_from_another_folder(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project({"seeds/customers.csv": CUSTOMERS}, config=CONFIG)
    monkeypatch.chdir(project.root.parent)
    project.run_ok()
    assert project.count("raw.customers") == 2


def test_seeds_config_naming_no_seed_points_at_the_config_line(
    make_project: MakeProject,
) -> None:
    project = make_project({"seeds/customers.csv": CUSTOMERS}, config=WITH_COUNTRIES)
    with pytest.raises(ConfigError) as info:
        project.load()
    error = info.value
    assert "seeds.schemas names 'countries', which is no seed" in error.message
    assert error.line == 9
    assert "customers" in (error.hint or "")


def test_an_unknown_seed_column_type_is_a_config_error_with_its_line(
    make_project: MakeProject,
) -> None:
    config = CONFIG.replace("zip: string", "zip: strng")
    project = make_project({"seeds/customers.csv": CUSTOMERS}, config=config)
    with pytest.raises(ConfigError) as info:
        project.load()
    assert "seeds.column_types.customers.zip" in info.value.message
    assert info.value.line == 9


def test_a_seed_named_like_a_model_is_an_error(make_project: MakeProject) -> None:
    project = make_project(
        {"seeds/customers.csv": CUSTOMERS, "models/customers.sql": "select 1 as id"},
        config=CONFIG,
    )
    with pytest.raises(ProjectError) as info:
        project.load()
    assert "two models are named 'customers'" in info.value.message
    assert "seeds/customers.csv" in info.value.message
