"""`interlace test`: run the project's pytest model tests (SPEC §8.3, §9)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

TESTS_DIR = "tests"


def _names_a_path(arg: str, root: Path) -> bool:
    """Whether ``arg`` (not an option) is a test path such as ``tests/test_x.py::test_y``."""
    return not arg.startswith("-") and (root / arg.split("::", 1)[0]).exists()


@click.command(
    "test",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--project", "-p", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--env", "-e", default=None, help="Environment the tests run against.")
@click.pass_context
def test(ctx: click.Context, args: tuple[str, ...], project: Path | None, env: str | None) -> None:
    """Run the project's tests/ with pytest and exit with pytest's code.

    ARGS are test paths relative to the project (default: tests/) and pytest options, e.g.
    `interlace test tests/test_orders.py -- -k revenue -x`.
    """
    import importlib.util
    import subprocess

    from interlace_cli.common import State, fail

    parent: State = ctx.find_root().obj
    root = (project or parent.project_path).resolve()
    if not root.is_dir():
        fail(f"project folder {root} does not exist", code=2)
    if importlib.util.find_spec("pytest") is None:
        fail("pytest is not installed", code=2)
    pytest_args = list(args)
    if not any(_names_a_path(a, root) for a in pytest_args):
        if not (root / TESTS_DIR).is_dir():
            fail(
                f"no {TESTS_DIR}/ folder in {root}\n  hint: write model tests in "
                f"{TESTS_DIR}/test_models.py (see docs/testing.md)",
            )
        pytest_args.insert(0, TESTS_DIR)
    environment = dict(os.environ)
    chosen_env = env or parent.env
    if chosen_env:
        environment["INTERLACE_ENV"] = chosen_env
    environment["INTERLACE_PROJECT"] = str(root)
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_args], cwd=root, env=environment, check=False
    )
    sys.exit(completed.returncode)
