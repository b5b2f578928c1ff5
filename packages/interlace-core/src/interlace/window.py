"""Backfill windows: `--since/--until` bounds and `--window` splitting (pure)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from interlace.durations import parse_duration
from interlace.errors import InterlaceError


class WindowError(InterlaceError):
    """--since / --until / --window are inconsistent or unreadable."""


@dataclass(frozen=True)
class Window:
    """Bounds for incremental models: ``since`` inclusive, ``until`` exclusive (strings)."""

    since: str | None
    until: str | None

    @property
    def is_backfill(self) -> bool:
        """A backfill reprocesses history and never moves the stored watermark."""
        return self.since is not None

    @property
    def active(self) -> bool:
        return self.since is not None or self.until is not None


def parse_bound(value: str, flag: str) -> dt.datetime | float:
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WindowError(
            f"{flag} {value!r} is neither a number nor an ISO date/timestamp",
            hint="use e.g. 2024-01-31, '2024-01-31 12:00:00' or a number",
        ) from None


def check_window(since: str | None, until: str | None) -> Window:
    if since is not None and until is not None:
        low, high = parse_bound(since, "--since"), parse_bound(until, "--until")
        if type(low) is not type(high):
            raise WindowError("--since and --until must both be dates or both be numbers")
        if (getattr(low, "tzinfo", None) is None) != (getattr(high, "tzinfo", None) is None):
            raise WindowError(
                f"--since {since} and --until {until}: one has a time zone and the other not",
                hint="give both a time zone (e.g. +00:00) or neither",
            )
        if low >= high:  # type: ignore[operator]
            raise WindowError(
                f"--since {since} is not earlier than --until {until}",
                hint="swap them: --since is the inclusive start, --until the exclusive end",
            )
    elif since is not None:
        parse_bound(since, "--since")
    elif until is not None:
        parse_bound(until, "--until")
    return Window(since, until)


MAX_WINDOWS = 10_000  # windows one `--window` backfill may run (each is a whole run)
# window sizes suggested when one is too small for its range, smallest first
_SUGGESTED = ("1m", "15m", "1h", "6h", "1d", "1w", "4w", "52w")


def count_windows(since: str, until: str | None, size: str) -> int:
    """How many windows of ``size`` split [since, until): computed, no list is built.

    >>> count_windows("2024-01-01", "2024-01-04", "1d")
    3
    """
    return _count(*_span(since, until, size))


def split_windows(since: str, until: str | None, size: str) -> list[Window]:
    """Split [since, until) into consecutive windows of ``size`` (e.g. ``1d``); more than
    :data:`MAX_WINDOWS` is an error that says how many were asked for."""
    start, end, step = _span(since, until, size)
    count = _count(start, end, step)
    if count > MAX_WINDOWS:
        fits = _fitting_size(start, end)
        larger = f"a larger --window ({fits[0]} makes {fits[1]:,}), " if fits else ""
        raise WindowError(
            f"--window {size} splits {since} .. {until or 'now'} into {count:,} windows; a "
            f"backfill runs at most {MAX_WINDOWS:,} (each window is one run)",
            hint=f"use {larger}a shorter --since/--until range, or leave --window out to "
            "process the whole range in one run",
        )
    windows = []
    cursor = start
    while cursor < end:
        nxt = min(cursor + step, end)
        windows.append(Window(_fmt(cursor), _fmt(nxt)))
        cursor = nxt
    return windows


def _span(
    since: str, until: str | None, size: str
) -> tuple[dt.datetime, dt.datetime, dt.timedelta]:
    """The start, end and step of a ``--window`` split (checked)."""
    try:
        step = parse_duration(size)
    except ValueError as exc:
        raise WindowError(f"--window: {exc}") from None
    check_window(since, until)
    start = parse_bound(since, "--since")
    end = parse_bound(until, "--until") if until else dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if not isinstance(start, dt.datetime) or not isinstance(end, dt.datetime):
        raise WindowError("--window needs --since (and --until) as dates or timestamps")
    if start.tzinfo is not None and end.tzinfo is None:
        end = end.replace(tzinfo=start.tzinfo)
    return start, end, step


def _fitting_size(start: dt.datetime, end: dt.datetime) -> tuple[str, int] | None:
    """The smallest suggested window size that splits the range into few enough windows."""
    for size in _SUGGESTED:
        count = _count(start, end, parse_duration(size))
        if count <= MAX_WINDOWS:
            return size, count
    return None


def _count(start: dt.datetime, end: dt.datetime, step: dt.timedelta) -> int:
    if end <= start:
        return 0
    whole, rest = divmod(end - start, step)
    return int(whole) + (1 if rest else 0)


def _fmt(value: dt.datetime) -> str:
    if value.time() == dt.time(0) and value.tzinfo is None:
        return value.date().isoformat()
    return value.isoformat(sep=" ")
