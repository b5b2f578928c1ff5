"""Distributions add `interlace` commands through the ``interlace.hooks`` entry points."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from interlace_service.testing import cli_env

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


GREET = """
import click

@click.command()
def greet() -> None:
    '''Greet.'''
    click.echo("hi")

def cli_commands():
    return [greet]
"""

# `interlace --help`, then whether importlib.metadata was imported for it
HELP_IMPORTS = """
import sys
from interlace_cli.main import cli
try:
    cli(["--help"])
except SystemExit:
    pass
print("METADATA", "importlib.metadata" in sys.modules)
"""


def test_the_list_of_extensions_is_cached_and_read_again_when_a_distribution_is_installed(
    project: Folder, tmp_path: Path
) -> None:
    """``--help`` lists extension commands without scanning every installed distribution
    (``importlib.metadata``) each time: the list is kept in the user's cache, keyed by the
    import path and its folders' times, so installing one is seen at once."""
    site = tmp_path / "site"
    site.mkdir()
    here = tmp_path / "here"  # a folder whose time stays put (sys.path[0] is "" below)
    here.mkdir()
    env = {"PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def imports_metadata() -> bool:
        done = subprocess.run(
            [sys.executable, "-c", HELP_IMPORTS],
            cwd=here,
            env=cli_env(env),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return "METADATA True" in done.stdout

    assert imports_metadata()  # the first time: scanned, and kept
    assert not imports_metadata()  # then read from the cache
    assert "greet" not in project.interlace("--help", env=env).stdout

    install_fake_distribution(site, "greet_hooks", GREET)  # into a folder already on the path
    listed = project.interlace("--help", env=env)
    assert "greet" in listed.stdout, listed
    assert project.interlace("greet", env=env).stdout.strip() == "hi"

    for cached in (tmp_path / "cache" / "interlace").glob("hooks-*.json"):
        cached.write_text("{not json")  # a broken cache is read again, not an error
    listed = project.interlace("--help", env=env)
    assert listed.code == 0 and "greet" in listed.stdout, listed
