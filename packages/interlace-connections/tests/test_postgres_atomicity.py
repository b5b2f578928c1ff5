"""A running statement on PostgreSQL can be interrupted from another thread.

That every write is atomic on PostgreSQL (a model that fails leaves its table as it was, SPEC
§3.3) is tested on every engine in the engine suite: engines/test_engine_atomicity.py.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    from conftest import PgProject


def test_interrupt_cancels_the_running_statement(pg_project: PgProject) -> None:
    from interlace.api import open_engines

    engine = open_engines(pg_project.load())["default"]
    session = engine.session()
    errors: list[BaseException] = []

    def sleep() -> None:
        try:
            session.execute("SELECT pg_sleep(30)")
        except BaseException as exc:
            errors.append(exc)

    try:
        worker = threading.Thread(target=sleep)
        started = time.perf_counter()
        worker.start()
        time.sleep(0.3)
        session.interrupt()
        worker.join(10)
        assert not worker.is_alive()
        assert time.perf_counter() - started < 5
        assert len(errors) == 1 and isinstance(errors[0], psycopg.errors.QueryCanceled)
        # the session is usable again afterwards
        assert session.fetch_all("SELECT 1") == [(1,)]
    finally:
        session.close()
        engine.close()
