"""``interlace.hooks``: how an installed distribution adds to Interlace without core edits.

A distribution registers one entry point in the group ``interlace.hooks``; it names a module (or
any object) that defines some of these functions, each returning a list:

- ``cli_commands()``: click commands or groups added to the ``interlace`` command
  (interlace-service adds ``interlace serve``; interlace-stream adds ``interlace stream ...``);
- ``service_routers()``: :class:`interlace_http.routing.Router` objects that ``interlace serve``
  mounts beside its own API (the scheduler, streams and lineage add their routes this way);
- ``config_sections()``: a mapping of a top-level config key to the pydantic model that
  validates it (interlace-service's ``service:``); a project reads the validated section from
  ``project.loaded.sections[key]``;
- ``model_kinds()``: :class:`interlace.kinds.ModelKind` objects: a new kind of node (a stream
  is the first) that the project loader discovers in model files, the graph orders, change
  detection fingerprints and the executor builds or passes over.
- ``run_listeners()``: callables ``attach(session) -> detach | None`` called with every
  :class:`interlace.run_session.RunSession` when it opens (CLI, service, scheduler alike); they
  subscribe to ``session.bus`` (interlace-service traces runs with OpenTelemetry this way) and
  may return a function called when the session closes;
- ``service_metrics()``: Prometheus collectors (objects with ``collect()``) that
  ``interlace serve`` adds to its ``/metrics`` registry (streams report throughput this way).
- ``service_extensions()``: callables ``extend(app, service) -> None`` that ``interlace serve``
  calls with its aiohttp application (before it starts) and its service, to run something
  inside the server: they may add startup/cleanup handlers to ``app`` and use
  ``service.project``, ``service.store`` and ``service.on_reload(callback)`` (``callback(project)``
  is called, from a worker thread, after ``--reload`` loaded the changed project). Stream
  ingestion runs inside ``interlace serve`` this way.

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
it is imported when the CLI lists its commands and when a project loads (the loader asks every
hook for model kinds), so import heavy libraries inside the functions and commands.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interlace.errors import ExtensionError

GROUP = "interlace.hooks"
REINSTALL = "reinstall or upgrade the distribution that provides it, or uninstall it"


@dataclass(frozen=True, kw_only=True)
class Hook:
    """One registered hook object and the distribution entry point it came from."""

    name: str
    source: str  # "module:attr" as registered, for error messages
    value: Any = None
    error: str | None = None  # why it failed to load ("ModuleNotFoundError: ..."), else None

    def describe(self) -> str:
        """How errors name it: ``the Interlace extension 'acme' (acme_interlace.hooks)``."""
        return f"the Interlace extension '{self.name}' ({self.source})"

    def load_error(self) -> ExtensionError:
        return ExtensionError(f"{self.describe()} failed to load: {self.error}", hint=REINSTALL)


@functools.cache
def installed_hooks() -> tuple[Hook, ...]:
    """Every ``interlace.hooks`` entry point, loaded once per process, in name order.

    A hook that fails to import is kept with its ``error``: asking it for anything
    (:func:`collect`) is a clear error naming the entry point and what to do, so it is never
    silently dropped (a missing ``serve`` command would be harder to explain), while the
    project loader can still load projects that need none of it.
    """
    hooks = []
    for name, source in registered():
        try:
            hooks.append(Hook(name=name, source=source, value=_load(source)))
        except Exception as exc:
            hooks.append(Hook(name=name, source=source, error=f"{type(exc).__name__}: {exc}"))
    return tuple(hooks)


def registered() -> list[tuple[str, str]]:
    """``(name, "module:attr")`` of every ``interlace.hooks`` entry point, in name order.

    Reading entry points costs ``importlib.metadata`` (about 20 ms of imports, then a scan of
    every installed distribution), which ``interlace --help`` would pay each time for the
    commands extensions add. So the list is kept in the user's cache, with the import path it
    was read from and the modification time of each of its folders: installing or removing a
    distribution changes its folder's time, and the list is read again.
    """
    key = [[entry, _mtime(entry)] for entry in sys.path]
    cache = _cache_file()
    try:
        import json

        kept = json.loads(cache.read_text())
        if kept.get("path") == key:
            return [(str(name), str(source)) for name, source in kept["hooks"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    from importlib.metadata import entry_points

    found = sorted({(ep.name, ep.value) for ep in entry_points(group=GROUP)})
    try:
        import json

        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f"{cache.name}.{os.getpid()}")
        partial.write_text(json.dumps({"path": key, "hooks": found}))
        partial.replace(cache)  # whole or not at all, with several processes at once
    except OSError:  # a read-only home: read them again next time
        pass
    return found


def _cache_file() -> Path:
    import zlib

    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    interpreter = zlib.crc32(sys.prefix.encode())  # one list per environment
    return Path(home) / "interlace" / f"hooks-{interpreter:08x}.json"


def _mtime(entry: str) -> int | None:
    try:
        return Path(entry or ".").stat().st_mtime_ns
    except OSError:
        return None


def _load(source: str) -> Any:
    """The object an entry point names: ``module`` or ``module:attr.attr`` (extras, in
    brackets, are ignored as ``importlib.metadata`` does)."""
    import importlib

    module, _, attrs = source.partition("[")[0].strip().partition(":")
    value: Any = importlib.import_module(module.strip())
    for attr in filter(None, attrs.strip().split(".")):
        value = getattr(value, attr)
    return value


def provided(function: str, *, skip_broken: bool = False) -> list[tuple[Hook, Any]]:
    """``(hook, item)`` for each item that ``function()`` returns on every installed hook that
    defines it. A hook that failed to import is an error, unless ``skip_broken``."""
    found: list[tuple[Hook, Any]] = []
    for hook in installed_hooks():
        if hook.error is not None:
            if skip_broken:
                continue
            raise hook.load_error()
        provide = getattr(hook.value, function, None)
        if provide is None:
            continue
        try:
            result = provide()
            # a mapping (config_sections) contributes its (key, value) pairs
            items = list(result.items()) if isinstance(result, Mapping) else list(result)
        except Exception as exc:
            raise ExtensionError(
                f"{hook.describe()} failed in {function}(): {type(exc).__name__}: {exc}",
                hint=REINSTALL,
            ) from None
        found.extend((hook, item) for item in items)
    return found


def broken_hooks() -> list[Hook]:
    """The installed hooks that failed to import."""
    return [hook for hook in installed_hooks() if hook.error is not None]


def collect(function: str) -> list[Any]:
    """Call ``function()`` on every installed hook that defines it; the lists, concatenated."""
    return [item for _, item in provided(function)]


def cli_commands() -> list[Any]:
    """Click commands that installed distributions add to ``interlace``."""
    return collect("cli_commands")


def service_routers() -> list[Any]:
    """Routers that installed distributions add to ``interlace serve``."""
    return collect("service_routers")


def config_sections() -> dict[str, Any]:
    """Top-level config sections installed distributions define: key -> pydantic model."""
    return dict(collect("config_sections"))


def model_kinds() -> list[Any]:
    """Model kinds that installed distributions add to the project loader (validated, with
    the extension that provides each: :func:`interlace.kinds.installed_kinds`)."""
    return collect("model_kinds")


def run_listeners() -> list[Any]:
    """Functions installed distributions want called with every run session as it opens."""
    return [item for _, item in provided("run_listeners", skip_broken=True)]


def service_extensions() -> list[Any]:
    """Functions ``extend(app, service)`` installed distributions want called by ``interlace
    serve`` (see the module docstring)."""
    return collect("service_extensions")


def service_metrics() -> list[Any]:
    """Prometheus collectors installed distributions add to ``interlace serve``'s ``/metrics``."""
    return collect("service_metrics")
