"""Duration strings (`30s`, `15m`, `1h`, `7d`, `2w`, `1h30m`) used by cache TTLs and windows."""

from __future__ import annotations

import datetime as dt
import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_duration(text: str) -> dt.timedelta:
    """Parse a duration; raise ValueError with the accepted forms otherwise.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    """
    value = str(text).strip().lower()
    parts = _PART.findall(value)
    if not value or not parts or _PART.sub("", value).strip():
        raise ValueError(
            f"invalid duration {text!r}: use a number and a unit s/m/h/d/w, e.g. '15m', '7d', '1h30m'"
        )
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"invalid duration {text!r}: it must be longer than zero")
    return dt.timedelta(seconds=seconds)
