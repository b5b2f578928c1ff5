"""Testing models (SPEC §9): run one model against mocked upstreams, or a whole project.

- :func:`test_model` / :func:`test_model_sync` run a ``@model`` function, a SQL model file or SQL
  text in a private in-memory DuckDB with :func:`mock_dependency` data for its upstreams and
  return a :class:`ModelTestResult` (``rows``, ``columns``, ``row_count``, ``df``, ``table``,
  ``status``, ``error``).
- :class:`ProjectFolder` builds a project from strings in a folder, runs it and queries it;
  :func:`run_project` runs a real project folder end to end (on a copy).
- The pytest plugin (:mod:`interlace.testing.plugin`, registered automatically) provides the
  ``interlace_project`` and ``run_project`` fixtures.

Example::

    from interlace.testing import mock_dependency, test_model_sync
    from myproject.models.revenue import revenue

    def test_revenue_sums_amounts_per_day():
        orders = mock_dependency([{"day": 1, "amount": 2.0}, {"day": 1, "amount": 3.0}])
        result = test_model_sync(revenue, deps={"orders": orders})
        assert result.rows == [{"day": 1, "total": 5.0}]

Imports are lazy so the pytest plugin costs nothing in test runs that do not use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "test_model": "interlace.testing.runner",
    "test_model_sync": "interlace.testing.runner",
    "mock_dependency": "interlace.testing.targets",
    "MockDependency": "interlace.testing.targets",
    "ModelTestResult": "interlace.testing.runner",
    "ModelTestError": "interlace.testing.targets",
    "ProjectFolder": "interlace.testing.folder",
    "ProjectRun": "interlace.testing.harness",
    "run_project": "interlace.testing.harness",
    "eventually": "interlace.testing.waiting",
}

if TYPE_CHECKING:
    from interlace.testing.folder import ProjectFolder
    from interlace.testing.harness import ProjectRun, run_project
    from interlace.testing.runner import ModelTestResult, test_model, test_model_sync
    from interlace.testing.targets import MockDependency, ModelTestError, mock_dependency
    from interlace.testing.waiting import eventually


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'interlace.testing' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "MockDependency",
    "ModelTestError",
    "ModelTestResult",
    "ProjectFolder",
    "ProjectRun",
    "eventually",
    "mock_dependency",
    "run_project",
    "test_model",
    "test_model_sync",
]
