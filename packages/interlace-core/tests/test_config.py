"""Project configuration: strict validation, variables, environments and overlays (SPEC §1.2-1.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from interlace.config import load_config, mask_secrets
from interlace.errors import ConfigError, InterlaceError

if TYPE_CHECKING:
    from conftest import MakeProject


def load_error(project_root: object, env: str | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(project_root, env)  # type: ignore[arg-type]
    assert isinstance(info.value, InterlaceError)
    return info.value


def test_yaml_syntax_error_names_the_file_and_line(make_project: MakeProject) -> None:
    project = make_project(
        config="""\
        name: demo
        connections: default: duckdb
        """
    )
    error = load_error(project.root)
    assert error.file is not None and error.file.endswith("config.yaml")
    assert error.line == 2
    assert "config.yaml:2: invalid YAML" in str(error)
    assert "hint: check indentation" in str(error)


def test_unclosed_quote_in_yaml_points_back_at_where_it_started(
    make_project: MakeProject,
) -> None:
    project = make_project(
        config="""\
        name: demo
        connections:
          default:
            type: duckdb
            path: "data/{env}.duckdb
        executor:
          max_workers: 2
        """
    )
    text = str(load_error(project.root))
    assert "invalid YAML" in text
    assert "quoted scalar that starts on line 5" in text


def test_unknown_top_level_key_suggests_the_right_one(make_project: MakeProject) -> None:
    project = make_project(
        config="""\
        name: demo
        conections:
          default: {type: duckdb}
        """
    )
    error = load_error(project.root)
    text = str(error)
    assert "config.yaml:2" in text
    assert "unknown key 'conections'" in text
    assert "did you mean 'connections'?" in text


def test_unknown_nested_key_names_its_path_and_line(make_project: MakeProject) -> None:
    project = make_project(
        config="""\
        connections:
          default:
            type: duckdb
            pth: data/x.duckdb
        """
    )
    text = str(load_error(project.root))
    assert "config.yaml:4" in text
    assert "connections.default.pth" in text
    assert "did you mean 'path'?" in text


def test_wrong_type_names_the_key_and_the_value(make_project: MakeProject) -> None:
    project = make_project(
        config="""\
        connections:
          default: {type: duckdb}
        executor:
          max_workers: many
        """
    )
    error = load_error(project.root)
    text = str(error)
    assert "config.yaml:4" in text
    assert "executor.max_workers" in text
    assert "'many'" in text
    assert error.hint


def test_invalid_choice_lists_the_allowed_values(make_project: MakeProject) -> None:
    project = make_project(
        config="""\
        connections:
          default: {type: duckdb}
        models:
          default_materialize: tabel
        """
    )
    text = str(load_error(project.root))
    assert "models.default_materialize" in text
    assert "'tabel'" in text
    assert "'table'" in text and "'view'" in text


def test_missing_environment_variable_names_the_key_and_how_to_set_it(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WAREHOUSE_DIR", raising=False)
    project = make_project(
        config="""\
        connections:
          default:
            type: duckdb
            path: ${WAREHOUSE_DIR}/dev.duckdb
        """
    )
    error = load_error(project.root)
    text = str(error)
    assert "config.yaml:4" in text
    assert "connections.default.path" in text
    assert "${WAREHOUSE_DIR}" in text
    assert ".env" in (error.hint or "")
    assert "${WAREHOUSE_DIR:-" in (error.hint or "")


def test_variables_come_from_the_environment_dotenv_and_defaults(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROJECT_NAME", "from_environment")
    monkeypatch.setenv("SHARED", "environment_wins")
    monkeypatch.delenv("DB_FILE", raising=False)
    monkeypatch.delenv("THREADS", raising=False)
    project = make_project(
        {
            ".env": """
                # comments and export are fine
                export DB_FILE="warehouse.duckdb"
                SHARED=dotenv_loses
            """
        },
        config="""\
        name: ${PROJECT_NAME}
        connections:
          default:
            type: duckdb
            path: data/${DB_FILE}
            memory_limit: ${MEMORY:-1GB}
            settings:
              note: ${SHARED}
        """,
    )
    config = load_config(project.root).config
    assert config.name == "from_environment"
    connection = config.connections["default"]
    assert connection.path == "data/warehouse.duckdb"
    assert connection.memory_limit == "1GB"
    assert connection.settings == {"note": "environment_wins"}


def test_dotenv_values_reach_a_real_run(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DB_NAME", raising=False)
    project = make_project(
        {".env": "DB_NAME=from_dotenv\n", "models/one.sql": "SELECT 1 AS id"},
        config="""\
        connections:
          default: {type: duckdb, path: "data/${DB_NAME}_{env}.duckdb"}
        """,
    )
    project.run_ok()
    assert (project.root / "data" / "from_dotenv_dev.duckdb").is_file()


def test_environment_overlay_is_deep_merged_with_env_substituted(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(
        {
            "config.prod.yaml": """
                connections:
                  default:
                    memory_limit: 4GB
                  archive:
                    type: duckdb
                    path: archive/{env}.duckdb
                models:
                  default_schema: prod_{env}
            """,
            "models/one.sql": "SELECT 1 AS id",
        },
        config="""\
        name: demo
        connections:
          default:
            type: duckdb
            path: data/{env}.duckdb
            settings: {preserve_insertion_order: false}
        models:
          default_materialize: table
        """,
    )
    prod = load_config(project.root, "prod")
    assert [f.name for f in prod.files] == ["config.yaml", "config.prod.yaml"]
    default = prod.config.connections["default"]
    assert default.path == "data/prod.duckdb"  # kept from the base, {env} replaced
    assert default.memory_limit == "4GB"  # added by the overlay
    assert default.settings == {"preserve_insertion_order": False}
    assert prod.config.connections["archive"].path == "archive/prod.duckdb"
    assert prod.config.models.default_schema == "prod_prod"
    assert prod.config.models.default_materialize == "table"

    dev = load_config(project.root)
    assert dev.env == "dev"
    assert set(dev.config.connections) == {"default"}
    assert dev.config.connections["default"].path == "data/dev.duckdb"

    monkeypatch.setenv("INTERLACE_ENV", "prod")
    assert load_config(project.root).env == "prod"
    result = project.run_ok()
    assert result.env == "prod"
    assert project.sql("SELECT id FROM prod_prod.one", env="prod") == [(1,)]


def test_overlay_lists_replace_instead_of_merging() -> None:
    from interlace.config import deep_merge

    merged = deep_merge({"a": {"b": [1, 2], "c": 1}, "keep": True}, {"a": {"b": [3], "d": 2}})
    assert merged == {"a": {"b": [3], "c": 1, "d": 2}, "keep": True}


def test_error_in_an_overlay_names_the_overlay_file(make_project: MakeProject) -> None:
    project = make_project(
        {"config.staging.yaml": "executor:\n  max_worker: 3\n"},
        config="connections:\n  default: {type: duckdb}\n",
    )
    text = str(load_error(project.root, "staging"))
    assert "config.staging.yaml:2" in text
    assert "did you mean 'max_workers'?" in text


def test_interlace_yaml_is_accepted_as_the_config_file(make_project: MakeProject) -> None:
    project = make_project({"interlace.yaml": "name: alt\n"}, config=None)
    assert load_config(project.root).config.name == "alt"


def test_missing_config_file_says_how_to_create_a_project(make_project: MakeProject) -> None:
    project = make_project(config=None)
    error = load_error(project.root)
    assert "config.yaml" in str(error)
    assert "interlace init" in (error.hint or "")


def test_default_connection_must_exist(make_project: MakeProject) -> None:
    project = make_project(
        config="""\
        connections:
          default: {type: duckdb}
        models:
          default_connection: warehouse
        """
    )
    error = load_error(project.root)
    assert "config.yaml:4" in str(error)
    assert "warehouse" in str(error)
    assert "default" in (error.hint or "")


def test_invalid_environment_name_is_rejected(make_project: MakeProject) -> None:
    project = make_project()
    assert "environment name" in str(load_error(project.root, "../etc"))


@pytest.mark.parametrize(
    "declaration",
    ["environments: [dev, prod]", "environments:\n  production: [prod]\n  names: [dev, prod]"],
)
def test_declared_environments_refuse_any_other_name(
    make_project: MakeProject, declaration: str
) -> None:
    project = make_project(
        config="name: demo\nconnections:\n  default: {type: duckdb}\n" + declaration + "\n"
    )
    assert load_config(project.root, "prod").config.environments.names == ["dev", "prod"]
    assert load_config(project.root).env == "dev"

    error = load_error(project.root, "prdo")

    line = 6 if "names" in declaration else 4
    assert f"config.yaml:{line}: unknown environment 'prdo'" in str(error), error
    assert "lists only dev, prod" in str(error)
    assert "did you mean 'prod'?" in (error.hint or "")
    assert "--env" in (error.hint or "")


def test_a_declared_environment_name_must_be_valid(make_project: MakeProject) -> None:
    project = make_project(
        config="name: demo\nconnections:\n  default: {type: duckdb}\nenvironments: [dev, ../x]\n"
    )
    error = load_error(project.root)
    assert "config.yaml:4" in str(error)
    assert "invalid environment name '../x'" in str(error)


def test_secrets_are_masked_for_display() -> None:
    masked = mask_secrets(
        {"password": "hunter2", "url": "postgres://me:hunter2@db/x", "user": "me"}
    )
    assert masked == {"password": "****", "url": "postgres://me:****@db/x", "user": "me"}
