"""Fixtures of the stream tests: the ``stream`` hook registered (until the package is
re-installed with its entry point), project folders with streams, a served stream app."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from interlace.hooks import installed_hooks
from interlace.testing import ProjectFolder
from interlace.testing.waiting import eventually

CONFIG = """\
name: stream_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
streaming:
  commit_interval: 0.05
  trigger_debounce: 0.2
  auth: {enabled: false}
  rate_limit: {enabled: false}
"""


@pytest.fixture(scope="session", autouse=True)
def stream_hook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Register ``interlace_stream.hooks`` as an ``interlace.hooks`` entry point when the
    installed distribution does not declare it yet (also for subprocesses, via PYTHONPATH)."""
    if any(hook.source == "interlace_stream.hooks" for hook in installed_hooks()):
        yield
        return
    site = tmp_path_factory.mktemp("stream_site")
    info = site / "interlace_stream_test_hooks-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: interlace-stream-test-hooks\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text("[interlace.hooks]\nstream = interlace_stream.hooks\n")
    sys.path.insert(0, str(site))
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), old) if p)
    installed_hooks.cache_clear()
    yield
    sys.path.remove(str(site))
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old
    installed_hooks.cache_clear()


@pytest.fixture
def project(tmp_path: Path) -> ProjectFolder:
    """A project with the streaming settings of the tests (fast commits, no auth)."""
    return ProjectFolder.create(tmp_path / "project", config=CONFIG)


Eventually = Callable[..., Any]
ReadRows = Callable[[ProjectFolder, str], list[tuple[Any, ...]]]


@pytest.fixture(name="eventually")
def eventually_fixture() -> Eventually:
    """``eventually(check, timeout=20)``: poll until ``check()`` is truthy; returns its value."""
    return eventually


@pytest.fixture(name="read_rows")
def read_rows_fixture() -> ReadRows:
    """``read_rows(folder, sql)``: rows of ``sql`` against the project's DuckDB file."""
    return lambda folder, sql: folder.engine_rows(sql)
