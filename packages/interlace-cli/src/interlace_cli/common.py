"""What every `interlace` command shares: the project/env options, loading the project, and
printing errors for people. Command modules import this, never `interlace_cli.main`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from interlace.project import Project


class State:
    def __init__(self, project: Path, env: str | None) -> None:
        self.project_path = project
        self.env = env

    def load(self) -> Project:
        from interlace.errors import InterlaceError
        from interlace.project import load_project

        try:
            return load_project(self.project_path, env=self.env)
        except InterlaceError as exc:
            fail(str(exc))


class handle_errors:
    """Print InterlaceErrors for people (no traceback) and exit 1."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc is None:
            return
        from interlace.errors import InterlaceError

        if isinstance(exc, InterlaceError):
            fail(str(exc))


def fail(message: str, code: int = 1) -> NoReturn:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


project_option = click.option(
    "--project",
    "-p",
    "project",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project folder (default: the current folder).",
)
env_option = click.option(
    "--env", "-e", default=None, help="Environment (default: $INTERLACE_ENV or dev)."
)


def state_of(ctx: click.Context, project: Path | None, env: str | None) -> State:
    """The project and environment of a command: its own options, else the group's."""
    parent: State = ctx.obj
    return State(project or parent.project_path, env or parent.env)
