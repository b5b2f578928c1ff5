"""The command itself: version, help, and a start-up that imports no heavy library."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

from interlace_cli import __version__

if TYPE_CHECKING:
    from conftest import Folder

HEAVY = ("duckdb", "ibis", "pandas", "polars", "pyarrow", "sqlglot")


def test_version_prints_the_version(folder: Folder) -> None:
    result = folder.interlace("--version")

    assert result.code == 0, result
    assert result.stdout.strip() == f"interlace, version {__version__}"


def test_help_lists_every_command(folder: Folder) -> None:
    result = folder.interlace("--help")

    assert result.code == 0, result
    assert "Usage: interlace" in result.stdout
    for command in ("init", "run", "info", "config"):
        assert f"\n  {command} " in result.stdout, result


def test_run_help_explains_selection_and_options(folder: Folder) -> None:
    result = folder.interlace("run", "--help")

    assert result.code == 0, result
    for text in ("+NAME", "NAME+", "tag:X", "--exclude", "--force", "--workers", "--env"):
        assert text in result.stdout, result


def imported(
    folder: Folder, commands: list[list[str]], modules: tuple[str, ...]
) -> tuple[list[str], str]:
    """Run ``interlace`` with each of ``commands`` in one fresh Python process in ``folder``:
    which of ``modules`` it imported, and what it printed."""
    probe = textwrap.dedent(
        f"""
        import json, sys
        from interlace_cli.main import cli

        for args in {commands!r}:
            try:
                cli(args, prog_name="interlace", standalone_mode=False)
            except SystemExit:
                pass
        print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], cwd=folder.root, capture_output=True, text=True, timeout=60
    )

    assert completed.returncode == 0, completed.stderr
    loaded: list[str] = json.loads(completed.stdout.strip().splitlines()[-1])
    return loaded, completed.stdout


def test_help_imports_no_heavy_library(folder: Folder) -> None:
    helps = [["--help"], ["run", "--help"], ["info", "--help"], ["init", "--help"]]
    loaded, _ = imported(folder, [*helps, ["config", "--help"], ["--version"]], HEAVY)

    assert loaded == [], f"`interlace --help` imported heavy modules: {loaded}"


def test_unknown_command_is_a_usage_error(folder: Folder) -> None:
    result = folder.interlace("runn")

    assert result.code == 2, result
    assert "No such command 'runn'" in result.stderr


RUN_PATH_LAZY = (
    "aiohttp",
    "html",
    "ibis",
    "interlace_connections",
    "interlace_service.schemas",
    "pandas",
    "polars",
    "pyarrow",
)


def test_running_a_sql_project_imports_nothing_it_does_not_use(folder: Folder) -> None:
    folder.write(
        {
            "config.yaml": "name: shop\nconnections:\n  default:\n    type: duckdb\n"
            "    path: data/dev.duckdb\n",
            "models/orders.sql": "select 1 as id",
            "models/totals.sql": "select count(*) as n from orders",
        }
    )
    loaded, output = imported(folder, [["run"]], RUN_PATH_LAZY)

    assert "2 succeeded" in output, output
    assert loaded == [], f"`interlace run` of a SQL project imported {loaded}"
