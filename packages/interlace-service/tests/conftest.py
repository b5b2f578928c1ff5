"""A real project in a temporary folder, served by the real app on a loopback port.

``serve_project(files, ...)`` builds the project, loads it into a :class:`Service`, and serves
:func:`create_app` from a background thread (:class:`interlace_http.testing.ServedApp`); tests
call it over HTTP and read the state store and the tables it built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from interlace.testing import ProjectFolder
from interlace_service.testing import SLOW_MODEL, Served

CONFIG = """\
name: shop
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
  archive:
    type: duckdb
    path: data/archive.duckdb
    attach:
      - name: legacy
        type: postgres
        host: db.example.com
        user: reader
        password: s3cret-pw
executor:
  max_workers: 4
"""

# `fragile` fails while the file `broken` exists (a dead letter each time)
FRAGILE = """
from pathlib import Path

from interlace import model

ROOT = Path(__file__).parent.parent

@model
def fragile():
    if (ROOT / "broken").exists():
        raise ConnectionError("the upstream API is down")
    return [{"id": 1}]
"""

SHOP = {
    "models/orders.sql": """
        -- @tags: [sales]
        -- @description: One row per order.
        SELECT * FROM (VALUES (1, 10.0), (2, 20.0)) AS t(id, amount)
    """,
    "models/revenue.sql": """
        -- @tags: [sales, finance]
        -- @quality_checks: [{not_null: total}, {row_count: {min: 2}, severity: warn}]
        SELECT sum(amount) AS total FROM orders
    """,
    "models/customers.py": """
        from interlace import model

        @model(fields={"id": "int64", "name": "string"})
        def customers():
            '''Customers from the CRM.'''
            return [{"id": 1, "name": "Ada"}]
    """,
    "models/slow.py": SLOW_MODEL,
    "models/slow_count.sql": "SELECT count(*) AS n FROM slow",
    "models/fragile.py": FRAGILE,
}


ServeProject = Callable[..., Served]


@pytest.fixture(scope="module")
def serve_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProject]:
    """``serve_project(files, config=..., **options)``: a project served for the module."""
    started: list[Served] = []

    def serve(files: Mapping[str, str] = SHOP, *, config: str = CONFIG, **options: Any) -> Served:
        folder = ProjectFolder.create(tmp_path_factory.mktemp("project"), config=config)
        folder.write(files)
        served = Served.start(folder, **options)
        started.append(served)
        return served

    yield serve
    for served in started:
        (served.root / "slow.gate").write_text("")  # let a held run end
        served.close()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTERLACE_ENV", raising=False)
