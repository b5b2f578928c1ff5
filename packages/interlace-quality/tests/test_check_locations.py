"""Mistakes in checks declared in config.yaml name the file and line, like the rest of the
config."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from interlace.errors import ConfigError, ModelDefinitionError

if TYPE_CHECKING:
    from conftest import MakeProject

CONFIG = """\
name: quality_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
quality:
  checks:
    orders:
      - {not_null: id}
      - row_count:
          min: 1
      - {accepted_values: {colum: status, values: [new]}}
"""


def test_a_bad_check_in_config_names_the_config_file_and_its_line(
    make_project: MakeProject,
) -> None:
    project = make_project({"models/orders.sql": "select 1 as id, 'new' as status"}, config=CONFIG)
    with pytest.raises(ModelDefinitionError) as info:
        project.load()
    error = info.value
    assert (error.file, error.line, error.model) == ("config.yaml", 12, "orders")
    assert "quality check #3" in error.message
    assert "config.yaml:12" in str(error)


def test_a_check_in_an_environment_overlay_names_the_overlay(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/orders.sql": "select 1 as id",
            "config.prod.yaml": "quality:\n  checks:\n    orders:\n      - {not_nul: id}\n",
        },
        config=CONFIG.split("quality:")[0],
    )
    with pytest.raises(ModelDefinitionError) as info:
        project.load(env="prod")
    assert (info.value.file, info.value.line) == ("config.prod.yaml", 4)


def test_checks_for_an_unknown_model_name_the_line(make_project: MakeProject) -> None:
    project = make_project({"models/other.sql": "select 1 as id"}, config=CONFIG)
    with pytest.raises(ConfigError) as info:
        project.load()
    assert (info.value.file, info.value.line) == ("config.yaml", 8)
