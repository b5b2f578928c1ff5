"""Reading server-sent events: a ``text/event-stream`` split, line by line, into its blocks.

The writing side is :mod:`interlace_http.sse`. This module uses the standard library only (no
aiohttp), so the service's Python client (``interlace_service.client``, which ``interlace run``
imports) reads streams with it as well as :class:`interlace_http.testing.ServedApp`.

Example::

    >>> lines = [b"retry: 3000\\n", b"\\n", b": keep-alive\\n", b"id: 7\\n", b"event: done\\n",
    ...          b'data: {"ok": true}\\n', b"\\n"]
    >>> [(b.fields, b.data, b.comment) for b in read_blocks(lines, comments=True)]
    [({'retry': '3000'}, None, False), ({}, None, True), ({'id': '7', 'event': 'done'}, '{"ok": true}', False)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator


@dataclass(frozen=True)
class Block:
    """One block of the stream (its lines up to a blank line), or one comment line."""

    # every field of the block but ``data`` (``id``, ``event``, ``retry``, ...): its last value
    fields: dict[str, str] = field(default_factory=dict)
    # the block's ``data`` lines joined by newlines; ``None`` when it had none (not an event)
    data: str | None = None
    # a comment line (``: keep-alive``), yielded on its own when asked for
    comment: bool = False


def read_blocks(lines: Iterable[bytes], *, comments: bool = False) -> Iterator[Block]:
    """The blocks of a stream of UTF-8 ``lines`` (each with or without its line end); with
    ``comments``, each comment line too. A block the stream ends in the middle of is dropped."""
    fields: dict[str, str] = {}
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line.startswith(":"):
            if comments:
                yield Block(comment=True)
            continue
        if line:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            else:
                fields[name] = value
            continue
        yield Block(fields, "\n".join(data) if data else None)
        fields, data = {}, []
