"""Connecting to NATS once, failing fast: the adapters' own loop does the retrying."""

from __future__ import annotations

from typing import Any


async def connect(url: str) -> Any:
    """A connection to the NATS server at ``url``, or ConnectionError naming why not.

    nats-py would otherwise keep trying an unreachable server inside ``connect`` (and log
    each failure); the adapter base class backs off and reports ``down`` instead.
    """
    import nats
    from nats.errors import NoServersError

    from interlace_stream.adapters.base import safe_url

    failures: list[BaseException] = []

    async def remember(error: Exception) -> None:
        failures.append(error)

    try:
        return await nats.connect(
            url,
            connect_timeout=5,
            allow_reconnect=False,
            max_reconnect_attempts=1,  # nats-py's initial connect gives up after this
            reconnect_time_wait=0.05,
            error_cb=remember,
        )
    except (NoServersError, OSError, TimeoutError) as exc:
        cause = failures[-1] if failures else exc
        raise ConnectionError(f"cannot connect to NATS at {safe_url(url)}: {cause}") from None
