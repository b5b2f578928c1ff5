"""Every write strategy by name: entry points of ``interlace.strategies``, plus registrations.

A distribution adds a strategy with an entry point whose name is the strategy's name and whose
object is a :class:`~interlace.strategies.base.Strategy` subclass (or instance); core declares
its own five that way in its ``pyproject.toml``::

    [project.entry-points."interlace.strategies"]
    insert_only = "my_package.insert_only:InsertOnly"

Tests and programs that embed Interlace register one in-process with :func:`register_strategy`.
An entry point is loaded the first time its strategy is asked for, so a broken plugin only
affects the models that use it.
"""

from __future__ import annotations

import functools
import threading
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from interlace.errors import ConfigError, ModelDefinitionError, first_line

if TYPE_CHECKING:
    from interlace.strategies.base import Strategy

GROUP = "interlace.strategies"

_lock = threading.Lock()
_registered: dict[str, Strategy] = {}  # register_strategy(), ahead of entry points
_loaded: dict[str, Strategy] = {}  # entry points loaded so far
_broken: dict[str, ConfigError] = {}  # entry points that failed to load, with the reason


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)  # two distributions with one name: the first one wins
    return found


def strategy_names() -> list[str]:
    """Names of every registered strategy (without loading any entry point)."""
    return list(dict.fromkeys([*_entry_points(), *_registered]))


def is_registered(name: str) -> bool:
    return name in _registered or name in _entry_points()


def get_strategy(name: str) -> Strategy:
    """The strategy called ``name``; a ModelDefinitionError listing the registered ones when
    there is none, a ConfigError when its entry point does not load."""
    found = _registered.get(name) or _loaded.get(name)
    if found is not None:
        return found
    if name in _broken:
        raise _broken[name]
    ep = _entry_points().get(name)
    if ep is None:
        raise ModelDefinitionError(f"unknown strategy '{name}'", hint=choices_hint())
    try:
        strategy = _load(ep)
    except ConfigError as exc:
        _broken[name] = exc
        raise
    with _lock:
        return _loaded.setdefault(name, strategy)


def registered_strategies() -> list[Strategy]:
    """Every registered strategy that loads (one whose entry point fails is left out here; it
    fails when a model asks for it by name)."""
    out = []
    for name in strategy_names():
        try:
            out.append(get_strategy(name))
        except ConfigError:
            pass
    return out


def choices_hint() -> str:
    names = strategy_names()
    if not names:
        return (
            "no strategies are registered: reinstall interlace-core (its entry points declare "
            "the built-in ones)"
        )
    return f"use one of: {', '.join(names)}"


def register_strategy(strategy: Strategy | type[Strategy], *, replace: bool = False) -> Strategy:
    """Make ``strategy`` available by its ``name`` to the models of every project run in this
    process, next to those the ``interlace.strategies`` entry points provide.

    Meant for tests and programs that embed Interlace; a distribution declares an entry point
    instead. ``replace=True`` puts it in place of a registered strategy of the same name.
    Returns the registered instance.

    Example::

        from interlace.strategies import register_strategy

        register_strategy(InsertOnly)  # a Strategy subclass with name = "insert_only"
        interlace.run_sync("path/to/project")  # models may say strategy="insert_only"
    """
    what = getattr(strategy, "__qualname__", type(strategy).__qualname__)
    instance = _instance(strategy, what)
    with _lock:
        if not replace and (instance.name in _registered or instance.name in _entry_points()):
            raise ConfigError(
                f"a strategy called '{instance.name}' is already registered",
                hint="choose another name, or pass replace=True to put yours in its place",
            )
        _registered[instance.name] = instance
    return instance


def unregister_strategy(name: str) -> None:
    """Undo :func:`register_strategy` (an entry point's strategy stays: uninstall its
    distribution to remove it)."""
    with _lock:
        if _registered.pop(name, None) is None:
            raise ConfigError(
                f"no strategy called '{name}' was registered with register_strategy()",
                hint=f"registered in this process: {', '.join(_registered) or 'none'}",
            )


def _load(ep: EntryPoint) -> Strategy:
    try:
        value = ep.load()
    except Exception as exc:
        raise ConfigError(
            f"strategy '{ep.name}' from {ep.value} failed to load: {first_line(exc)}",
            hint="reinstall the distribution that provides it",
        ) from None
    return _instance(value, f"entry point '{ep.name}' ({ep.value})", name=ep.name)


def _instance(value: Any, what: str, name: str | None = None) -> Strategy:
    """``value`` (a Strategy subclass or instance) as an instance whose declarations hold.

    Recognised by what a Strategy has (``steps`` and ``declaration_errors``) rather than by
    class, so the registry sits below the strategies and the model options they check."""
    if isinstance(value, type) and _is_strategy(value):
        value = value()
    strategy: Strategy = value
    if not _is_strategy(type(strategy)):
        raise ConfigError(
            f"{what} is not a Strategy",
            hint="register a subclass of interlace.strategies.Strategy (or an instance of one)",
        )
    problems = type(strategy).declaration_errors()
    if name is not None and not problems and strategy.name != name:
        problems.append(f"its name is '{strategy.name}', not '{name}'")
    if problems:
        raise ConfigError(
            f"strategy {what} is declared wrongly: {'; '.join(problems)}",
            hint="see 'Adding a strategy' in docs/contributing.md",
        )
    return strategy


def _is_strategy(cls: type) -> bool:
    return callable(getattr(cls, "steps", None)) and callable(
        getattr(cls, "declaration_errors", None)
    )
