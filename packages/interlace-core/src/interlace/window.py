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


def split_windows(since: str, until: str | None, size: str) -> list[Window]:
    """Split [since, until) into consecutive windows of ``size`` (e.g. ``1d``)."""
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
    windows = []
    cursor = start
    while cursor < end:
        nxt = min(cursor + step, end)
        windows.append(Window(_fmt(cursor), _fmt(nxt)))
        cursor = nxt
    return windows


def _fmt(value: dt.datetime) -> str:
    if value.time() == dt.time(0) and value.tzinfo is None:
        return value.date().isoformat()
    return value.isoformat(sep=" ")
