"""Distributions add `interlace` commands through the ``interlace.hooks`` entry points."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Folder


def install_fake_distribution(site: Path, module: str, source: str) -> dict[str, str]:
    """A minimal installed distribution (a module and its dist-info with one hooks entry
    point) in ``site``; returns the environment that puts it on the path."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{module.replace('_', '-')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[interlace.hooks]\n{module} = {module}\n")
    return {"PYTHONPATH": str(site)}


def test_an_installed_distribution_adds_a_command_group(project: Folder, tmp_path: Path) -> None:
    env = install_fake_distribution(
        tmp_path / "site",
        "acme_hooks",
        """
        import click

        @click.group()
        def acme() -> None:
            '''Acme tools.'''

        @acme.command()
        @click.argument("who")
        def hello(who: str) -> None:
            '''Say hello.'''
            click.echo(f"hello {who}")

        def cli_commands():
            return [acme]
        """,
    )
    listed = project.interlace("--help", env=env)
    assert listed.code == 0, listed
    assert "acme" in listed.stdout and "Acme tools." in listed.stdout
    said = project.interlace("acme", "hello", "world", env=env)
    assert said.code == 0, said
    assert said.stdout.strip() == "hello world"
    # built-in commands are unaffected (and never load the extensions)
    assert project.interlace("run", env=env).code == 0


def test_an_extension_cannot_shadow_a_built_in_command(project: Folder, tmp_path: Path) -> None:
    env = install_fake_distribution(
        tmp_path / "site",
        "shadow_hooks",
        """
        import click

        @click.command("run")
        def run() -> None:
            click.echo("not the real run")

        def cli_commands():
            return [run]
        """,
    )
    result = project.interlace("run", env=env)
    assert result.code == 0, result
    assert "not the real run" not in result.output


def test_a_broken_extension_is_a_clear_error(project: Folder, tmp_path: Path) -> None:
    env = install_fake_distribution(tmp_path / "site", "broken_hooks", "import no_such_module\n")
    result = project.interlace("--help", env=env)
    assert result.code == 1, result
    assert not result.has_traceback, result
    assert "extension 'broken_hooks'" in result.stderr
    assert "No module named 'no_such_module'" in result.stderr
    assert "reinstall" in result.stderr
    # a built-in command still works: extensions load only when needed
    assert project.interlace("run", env=env).code == 0
