"""A cursor's watermark is stored as text that CAST(text AS <type>) turns back into the same
value (SPEC §5.1). That every cursor type (DATE, TIMESTAMP, TIMESTAMPTZ, integers, strings)
appends each row once is tested on every engine in interlace-connections' engine suite
(tests/engines/test_engine_incremental.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pytest
from interlace.incremental import cursor_text

UTC_PLUS_2 = dt.timezone(dt.timedelta(hours=2))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (dt.date(2024, 2, 29), "2024-02-29"),
        (dt.datetime(2024, 1, 1, 9, 30), "2024-01-01 09:30:00"),
        (dt.datetime(2024, 1, 1, 9, 30, 0, 5), "2024-01-01 09:30:00.000005"),
        (dt.datetime(2024, 1, 1, 1, tzinfo=UTC_PLUS_2), "2023-12-31 23:00:00+00:00"),
        (dt.time(7, 15), "07:15:00"),
        (42, "42"),
        (2**40, "1099511627776"),
        ("k07", "k07"),
    ],
)
def test_cursor_text_casts_back_to_the_same_value(value: Any, text: str) -> None:
    assert cursor_text(value) == text
    kind = {
        dt.datetime: "TIMESTAMPTZ" if getattr(value, "tzinfo", None) else "TIMESTAMP",
        dt.date: "DATE",
        dt.time: "TIME",
        int: "BIGINT",
        str: "VARCHAR",
    }[type(value)]
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        back = con.execute(f"SELECT CAST(? AS {kind}) = ?", [text, value]).fetchone()
    assert back == (True,)
