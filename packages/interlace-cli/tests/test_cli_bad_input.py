"""Bad input: exit 1 with `file:line`, what is wrong and a hint, never a Python traceback."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Folder

CONFIG_HEAD = """\
name: broken
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
"""

ONE_MODEL = {
    "models/ok.py": """
        from interlace import model


        @model
        def ok():
            return [{"id": 1}]
    """
}

CASES = {
    "yaml_syntax_error": (
        {"config.yaml": CONFIG_HEAD + "executor:\n  max_workers: [4\n"},
        ("config.yaml:", "invalid YAML"),
    ),
    "unknown_config_key": (
        {"config.yaml": CONFIG_HEAD + "executor:\n  max_wokers: 4\n"},
        ("config.yaml:7", "unknown key 'max_wokers'", "did you mean 'max_workers'?"),
    ),
    "wrong_config_type": (
        {"config.yaml": CONFIG_HEAD + "executor:\n  max_workers: many\n"},
        ("config.yaml:7", "executor.max_workers"),
    ),
    "unset_environment_variable": (
        {"config.yaml": CONFIG_HEAD.replace("data/{env}.duckdb", "${NO_SUCH_VAR_X}")},
        ("config.yaml:5", "${NO_SUCH_VAR_X}", "export NO_SUCH_VAR_X"),
    ),
    "unknown_model_keyword": (
        {
            "models/bad.py": """
                from interlace import model


                @model(schema="raw", tagz=["a"])
                def bad():
                    return [{"id": 1}]
            """
        },
        ("models/bad.py:4", "unknown model option 'tagz'", "did you mean 'tags'?"),
    ),
    "invalid_model_value": (
        {
            "models/bad.py": """
                from interlace import model


                @model(materialize="tabel")
                def bad():
                    return [{"id": 1}]
            """
        },
        ("models/bad.py:4", "materialize", "'tabel'"),
    ),
    "python_syntax_error": (
        {"models/bad.py": "from interlace import model\n\ndef broken(:\n    pass\n"},
        ("models/bad.py:3", "syntax error"),
    ),
    "model_file_import_error": (
        {"models/bad.py": "import no_such_module_for_interlace_tests\n"},
        ("models/bad.py:1", "no_such_module_for_interlace_tests"),
    ),
    "sql_syntax_error": (
        {"models/bad.sql": "-- @name: bad\n-- @tags: [x]\nselect 1 as x,\nfrom where\n"},
        ("models/bad.sql:4", "SQL syntax error"),
    ),
    "unknown_sql_header_option": (
        {"models/bad.sql": "-- @materialise: view\n-- @shedule: daily\nselect 1 as x\n"},
        ("models/bad.sql:2", "unknown model option 'shedule'", "did you mean 'schedule'?"),
    ),
    "dependency_cycle": (
        {"models/a.sql": "select * from b\n", "models/b.sql": "select * from a\n"},
        ("models/", ".sql:1", "dependency cycle", "a -> b -> a"),
    ),
    "unknown_dependency": (
        {
            "models/bad.py": """
                from interlace import model


                @model(dependencies=["okk"])
                def bad():
                    return [{"id": 1}]
            """
        },
        ("models/bad.py:4", "unknown model 'okk'", "did you mean 'ok'?"),
    ),
    "duplicate_model_name": (
        {"models/ok.sql": "select 1 as id\n"},
        ("two models are named 'ok'", "models/ok.py", "models/ok.sql"),
    ),
    "model_names_differ_only_by_case": (
        {"models/OK.sql": "select 1 as id\n"},
        ("models/ok.py:4", "models/OK.sql:1", "differ only by case", "main.ok", "rename one"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_project_exits_1_naming_file_line_and_a_hint(project: Folder, case: str) -> None:
    files, expected = CASES[case]
    project.write({**ONE_MODEL, **files})

    result = project.interlace("run")

    assert result.code == 1, result
    assert not result.has_traceback, result
    assert result.stderr.startswith("error: "), result
    assert "hint:" in result.stderr, result
    for text in expected:
        assert text in result.stderr, result
    assert re.search(r"\S+:\d+", result.stderr), "no file:line in the message"
    assert result.stdout == "", "nothing runs when the project does not load"


@pytest.mark.parametrize("case", ["unknown_config_key", "unknown_model_keyword"])
@pytest.mark.parametrize("command", [("info", "--no-check"), ("info", "ok")])
def test_info_reports_a_bad_project_like_run(
    project: Folder, case: str, command: tuple[str, ...]
) -> None:
    files, expected = CASES[case]
    project.write({**ONE_MODEL, **files})

    result = project.interlace(*command)

    assert result.code == 1, result
    assert not result.has_traceback, result
    assert "hint:" in result.stderr, result
    for text in expected:
        assert text in result.stderr, result


def test_config_reports_a_bad_config_without_loading_models(project: Folder) -> None:
    files, expected = CASES["unknown_config_key"]
    project.write({**files, "models/bad.py": "raise RuntimeError('never imported')\n"})

    result = project.interlace("config")

    assert result.code == 1, result
    assert not result.has_traceback, result
    for text in expected:
        assert text in result.stderr, result


def test_missing_project_folder_is_reported(folder: Folder) -> None:
    result = folder.interlace("--project", "no_such_folder", "run")

    assert result.code == 1, result
    assert "no_such_folder" in result.stderr
    assert "does not exist" in result.stderr
    assert "hint:" in result.stderr
    assert not result.has_traceback, result


@pytest.mark.parametrize("command", [("run",), ("info",), ("config",)])
def test_folder_without_config_is_reported(folder: Folder, command: tuple[str, ...]) -> None:
    folder.write({"models/a.sql": "select 1 as x\n"})

    result = folder.interlace(*command)

    assert result.code == 1, result
    assert "no config.yaml or interlace.yaml" in result.stderr
    assert "interlace init" in result.stderr
    assert not result.has_traceback, result


def test_invalid_environment_name_is_reported(project: Folder) -> None:
    result = project.interlace("run", "--env", "../prod")

    assert result.code == 1, result
    assert "invalid environment name" in result.stderr
    assert not result.has_traceback, result
