"""Workspace-wide pytest set-up (the README's test command collects from here).

pytest rewrites the asserts of every module of a distribution that provides a plugin, and
interlace-core provides one (``interlace.testing.plugin``), so the whole ``interlace`` package
would be parsed into Python ASTs by pytest when first imported. Many of its modules are
imported lazily in worker threads (a run's thread, a server's executor), and CPython 3.11.7's
``ast`` module is not thread-safe there (python/cpython#106905: "AST constructor recursion depth
mismatch", fixed in 3.11.8). The same holds for the other plugins' packages (schemathesis imports
modules lazily while a served app's thread runs). No library's asserts need rewriting: only the
tests and conftest files keep pytest's rewriting.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from _pytest.assertion.rewrite import assertstate_key

    state = config.stash.get(assertstate_key, None)
    hook = getattr(state, "hook", None)
    if hook is not None:
        hook._must_rewrite.clear()
        hook._marked_for_rewrite_cache.clear()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep ``--dist loadgroup`` working on pytest 9: pytest-xdist 3.8 marks an item's group by
    suffixing ``item._nodeid`` with ``@group``, but pytest 9 reads the node id from ``item._id``,
    so the groups were ignored and a module's served app was started on every worker. The same
    suffix is put where pytest 9 reads it (runs after xdist's hook)."""
    if not getattr(config.option, "loadgroup", False) or not hasattr(config, "workerinput"):
        return
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # pytest before 9: the node id is ``_nodeid`` itself
        return
    for item in items:
        suffixed = item.__dict__.get("_nodeid")
        if isinstance(suffixed, str) and "@" in suffixed and "@" not in item.nodeid:
            item._id = NodeId.parse(suffixed)  # type: ignore[attr-defined]
