"""Every ``>>>`` session in a docstring of the packages (and of the site's own helpers) runs
and prints what it shows: the examples the API reference publishes cannot go stale.

Modules are found by their text (only those with a ``>>>`` are imported), one test each.
"""

from __future__ import annotations

import doctest
import importlib
import io

import pytest
from sitegen.build import REPO, WEBSITE

SOURCES = [*sorted(REPO.glob("packages/*/src")), WEBSITE]


def _modules_with_sessions() -> list[str]:
    found = []
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            if "tests" in path.relative_to(source).parts or ">>>" not in path.read_text():
                continue
            parts = list(path.relative_to(source).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found.append(".".join(parts))
    return found


MODULES = _modules_with_sessions()


def test_the_packages_have_docstring_sessions() -> None:
    assert any(name.startswith("interlace.") for name in MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_docstring_sessions_run(module: str) -> None:
    imported = importlib.import_module(module)
    tests = [t for t in doctest.DocTestFinder().find(imported, module) if t.examples]
    assert tests, f"{module} has '>>>' outside a docstring that doctest finds"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()

    for test in tests:
        runner.run(test, out=report.write)

    assert runner.failures == 0, report.getvalue()
