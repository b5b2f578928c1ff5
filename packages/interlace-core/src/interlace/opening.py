"""Opening a project's engines and its state store: the one place both are created.

Low in the layers on purpose: the run lifecycle (:mod:`interlace.run_session`), exports,
migrations, promote, fallbacks and the testing helpers all open them through here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from interlace.state import SQLiteStateStore

if TYPE_CHECKING:
    from collections.abc import Iterable

    from interlace.engines.base import Engine
    from interlace.project import Project
    from interlace.state.base import StateStore


def open_engines(project: Project, names: Iterable[str] | None = None) -> dict[str, Engine]:
    """Engines for the project's database connections (all, or those ``names``)."""
    from interlace.plugins import connection_type

    wanted = set(names) if names is not None else set(project.config.connections)
    engines: dict[str, Engine] = {}
    for name, cfg in project.config.connections.items():
        kind = connection_type(cfg.type)
        if name in wanted and kind.create_engine is not None:
            engines[name] = kind.create_engine(name, cfg, project.root)
            engines[name].use_functions(project.functions)
            engines[name].use_databases(
                spec.database
                for spec in project.models.values()
                if spec.connection == name and spec.database is not None
            )
    return engines


def has_state(project: Project) -> bool:
    """False when the project's default SQLite state store was never created (nothing ran)."""
    from interlace.config import StateConfig

    config = project.config.state
    if not isinstance(config, StateConfig):
        return True
    path = Path(config.path)
    return (path if path.is_absolute() else project.root / path).exists()


def open_state(project: Project) -> StateStore:
    """The project's state store: SQLite by default, or the type ``state.type`` names."""
    from interlace.config import StateConfig
    from interlace.plugins import state_store_type

    config = project.config.state
    if not isinstance(config, StateConfig):
        return state_store_type(config.type).create(config, project.root)
    path = Path(config.path)
    if not path.is_absolute():
        path = project.root / path
    return SQLiteStateStore(path)
