"""Interlace: Python/SQL data pipelines on DuckDB, PostgreSQL and any ibis backend.

The public API is imported lazily so `import interlace` (and the CLI) start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "model": "interlace.decorator",
    "run": "interlace.api",
    "run_sync": "interlace.api",
    "check": "interlace.api",
    "check_sync": "interlace.api",
    "plan_project": "interlace.plan",
    "load_project": "interlace.project",
    "Project": "interlace.project",
    "RunResult": "interlace.results",
    "ModelResult": "interlace.results",
    "ModelContext": "interlace.context",
    "EventBus": "interlace.events",
    "InterlaceError": "interlace.errors",
}

if TYPE_CHECKING:
    from interlace.api import check, check_sync, run, run_sync
    from interlace.context import ModelContext
    from interlace.decorator import model
    from interlace.errors import InterlaceError
    from interlace.events import EventBus
    from interlace.plan import plan_project
    from interlace.project import Project, load_project
    from interlace.results import ModelResult, RunResult


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'interlace' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "EventBus",
    "InterlaceError",
    "ModelContext",
    "ModelResult",
    "Project",
    "RunResult",
    "__version__",
    "check",
    "check_sync",
    "load_project",
    "model",
    "plan_project",
    "run",
    "run_sync",
]
