"""Environments and `interlace config` (SPEC §1.2, §1.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from conftest import Folder

MODELS = {
    "models/a.py": """
        from interlace import model


        @model
        def a(context):
            return [{"env": context.env}]
    """,
}

PROD_OVERLAY = """
executor:
  max_workers: 2
"""

SECRET_CONFIG = """
name: secrets
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
    settings:
      password: ${DB_PASSWORD}
      api_token: hunter2
  archive:
    type: duckdb
    path: ${ARCHIVE_PATH:-data/archive.duckdb}
"""


def test_env_option_uses_the_overlay_and_its_database(project: Folder) -> None:
    project.write({**MODELS, "config.prod.yaml": PROD_OVERLAY})

    result = project.interlace("run", "--env", "prod")

    assert result.code == 0, result
    assert "[prod]" in result.stdout
    assert project.db("prod").is_file()
    assert not project.db("dev").exists()
    assert project.sql("SELECT env FROM main.a", env="prod") == [("prod",)]


def test_env_option_works_before_the_command(project: Folder) -> None:
    project.write({**MODELS, "config.prod.yaml": PROD_OVERLAY})

    result = project.interlace("--env", "prod", "run")

    assert result.code == 0, result
    assert project.sql("SELECT env FROM main.a", env="prod") == [("prod",)]


def test_interlace_env_variable_selects_the_environment(project: Folder) -> None:
    project.write(MODELS)

    by_variable = project.interlace("run", env={"INTERLACE_ENV": "staging"})
    option_wins = project.interlace("run", "--env", "prod", env={"INTERLACE_ENV": "staging"})

    assert by_variable.code == 0, by_variable
    assert "[staging]" in by_variable.stdout
    assert project.sql("SELECT env FROM main.a", env="staging") == [("staging",)]
    assert option_wins.code == 0, option_wins
    assert project.db("prod").is_file()
    assert not project.db("dev").exists()


def test_config_lists_environments_and_prints_the_merged_config(project: Folder) -> None:
    project.write({"config.prod.yaml": PROD_OVERLAY, "config.staging.yaml": "{}\n"})

    dev = project.interlace("config")
    prod = project.interlace("config", "--env", "prod")

    assert dev.code == 0, dev
    assert dev.stdout.splitlines()[0] == "environments: dev, prod, staging"
    assert "# environment: dev" in dev.stdout
    assert yaml.safe_load(dev.stdout)["connections"]["default"]["path"] == "data/dev.duckdb"
    assert yaml.safe_load(dev.stdout)["executor"]["max_workers"] == 4

    assert prod.code == 0, prod
    assert "# files: config.yaml, config.prod.yaml" in prod.stdout
    merged = yaml.safe_load(prod.stdout)
    assert merged["executor"]["max_workers"] == 2
    assert merged["connections"]["default"]["path"] == "data/prod.duckdb"
    assert merged["name"] == "test_project"


def test_config_list_only_lists_environments(project: Folder) -> None:
    project.write({"config.prod.yaml": PROD_OVERLAY})

    result = project.interlace("config", "--list")

    assert result.code == 0, result
    assert result.stdout.strip() == "environments: dev, prod"


def test_config_masks_secrets_and_resolves_variables(project: Folder) -> None:
    project.write({"config.yaml": SECRET_CONFIG, ".env": "DB_PASSWORD=s3cr3t-from-dotenv\n"})

    from_dotenv = project.interlace("config")
    from_process = project.interlace("config", env={"DB_PASSWORD": "s3cr3t-from-env"})

    for result in (from_dotenv, from_process):
        assert result.code == 0, result
        assert "s3cr3t" not in result.stdout, result
        assert "hunter2" not in result.stdout, result
        settings = yaml.safe_load(result.stdout)["connections"]["default"]["settings"]
        assert settings == {"password": "****", "api_token": "****"}
        assert yaml.safe_load(result.stdout)["connections"]["archive"]["path"] == (
            "data/archive.duckdb"
        )


def test_config_names_an_unset_variable(project: Folder) -> None:
    project.write({"config.yaml": SECRET_CONFIG})

    result = project.interlace("config")

    assert result.code == 1, result
    assert "config.yaml:7" in result.stderr
    assert "${DB_PASSWORD}" in result.stderr
    assert "hint:" in result.stderr
    assert not result.has_traceback, result


def test_a_new_environment_name_warns_naming_the_known_ones(project: Folder) -> None:
    project.write({**MODELS, "config.prod.yaml": PROD_OVERLAY})
    assert project.interlace("run", "--env", "staging").code == 0  # now in the state store

    typo = project.interlace("run", "--env", "prdo")
    again = project.interlace("run", "--env", "prdo")
    overlay = project.interlace("run", "--env", "prod")
    default = project.interlace("run")

    assert typo.code == 0, typo
    assert "warning: environment 'prdo' is new" in typo.stderr, typo
    assert "no config.prdo.yaml overlay" in typo.stderr
    assert "did you mean 'prod'?" in typo.stderr
    known = typo.stderr.split("known environments: ")[1].split(" (")[0].split(", ")
    assert {"dev", "prod", "staging"} <= set(known), typo  # default, overlay, state store
    assert "prdo" not in known
    for known_env in (again, overlay, default):  # ran before, has an overlay, the default
        assert known_env.code == 0, known_env
        assert "warning" not in known_env.stderr, known_env


def test_environments_listed_in_the_config_make_other_names_an_error(project: Folder) -> None:
    config = (project.root / "config.yaml").read_text(encoding="utf-8")
    project.write({**MODELS, "config.yaml": config + "environments: [dev, prod]\n"})

    typo = project.interlace("run", "--env", "prdo")
    by_variable = project.interlace("run", env={"INTERLACE_ENV": "staging"})
    listed = project.interlace("config", "--list")
    prod = project.interlace("run", "--env", "prod")

    assert typo.code == 1, typo
    assert not typo.has_traceback, typo
    assert "config.yaml:8: unknown environment 'prdo'" in typo.stderr, typo
    assert "lists only dev, prod" in typo.stderr
    assert "did you mean 'prod'?" in typo.stderr
    assert not project.db("prdo").exists()
    assert by_variable.code == 1, by_variable
    assert "unknown environment 'staging'" in by_variable.stderr
    assert listed.stdout.strip() == "environments: dev, prod", listed
    assert prod.code == 0, prod
    assert "warning" not in prod.stderr, prod
