"""``interlace.hooks``: how an installed distribution adds to Interlace without core edits.

A distribution registers one entry point in the group ``interlace.hooks``; it names a module (or
any object) that defines some of these functions, each returning a list:

- ``cli_commands()``: click commands or groups added to the ``interlace`` command
  (interlace-service adds ``interlace serve``; interlace-stream adds ``interlace stream ...``);
- ``service_routers()``: :class:`interlace_http.routing.Router` objects that ``interlace serve``
  mounts beside its own API (the scheduler, streams and lineage add their routes this way);
- ``model_kinds()``: :class:`interlace.kinds.ModelKind` objects: a new kind of node (a stream
  is the first) that the project loader discovers in model files, the graph orders, change
  detection fingerprints and the executor builds or passes over.

Example: a package ``acme-interlace`` with ``acme_interlace/hooks.py``::

    import click

    @click.command()
    def hello() -> None:
        '''Say hello.'''
        click.echo("hello")

    def cli_commands() -> list[click.Command]:
        return [hello]

and in its ``pyproject.toml``::

    [project.entry-points."interlace.hooks"]
    acme = "acme_interlace.hooks"

After ``pip install acme-interlace``, ``interlace hello`` works. Keep the hook module light:
it is imported when the CLI lists its commands, so import heavy libraries inside the commands.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from interlace.errors import ConfigError

GROUP = "interlace.hooks"


@dataclass(frozen=True, kw_only=True)
class Hook:
    """One registered hook object and the distribution entry point it came from."""

    name: str
    source: str  # "module:attr" as registered, for error messages
    value: Any


@functools.cache
def installed_hooks() -> tuple[Hook, ...]:
    """Every ``interlace.hooks`` entry point, loaded, in name order.

    A hook that fails to import is a clear error naming the entry point and what to do; it is
    never silently dropped (a missing ``serve`` command would be harder to explain).
    """
    hooks = []
    for ep in sorted(entry_points(group=GROUP), key=lambda ep: ep.name):
        try:
            value = ep.load()
        except Exception as exc:
            raise ConfigError(
                f"the Interlace extension '{ep.name}' ({ep.value}) failed to load: "
                f"{type(exc).__name__}: {exc}",
                hint="reinstall or upgrade the distribution that provides it, or uninstall it",
            ) from None
        hooks.append(Hook(name=ep.name, source=ep.value, value=value))
    return tuple(hooks)


def collect(function: str) -> list[Any]:
    """Call ``function()`` on every installed hook that defines it; the lists, concatenated."""
    found: list[Any] = []
    for hook in installed_hooks():
        provide = getattr(hook.value, function, None)
        if provide is None:
            continue
        try:
            provided = provide()
        except Exception as exc:
            raise ConfigError(
                f"the Interlace extension '{hook.name}' ({hook.source}) failed in "
                f"{function}(): {type(exc).__name__}: {exc}",
                hint="reinstall or upgrade the distribution that provides it, or uninstall it",
            ) from None
        found.extend(provided)
    return found


def cli_commands() -> list[Any]:
    """Click commands that installed distributions add to ``interlace``."""
    return collect("cli_commands")


def service_routers() -> list[Any]:
    """Routers that installed distributions add to ``interlace serve``."""
    return collect("service_routers")


def model_kinds() -> list[Any]:
    """Model kinds that installed distributions add to the project loader."""
    return collect("model_kinds")
