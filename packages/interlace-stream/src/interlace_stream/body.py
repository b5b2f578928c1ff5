"""Reading a publish request's body: a JSON object, a JSON array of objects, or NDJSON.

Pure functions (bytes in, events out); errors name the line (NDJSON) or the index (array).

>>> events_of(b'{"a": 1}\\n{"a": 2}\\n', "application/x-ndjson")[0]
[{'a': 1}, {'a': 2}]
"""

from __future__ import annotations

import json
from typing import Any

from interlace_stream.errors import BadPayload

NDJSON_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/json-lines",
        "application/jsonlines",
    }
)


def events_of(body: bytes, content_type: str) -> tuple[list[Any], list[bytes] | None]:
    """The events of a body, and for NDJSON each event's own bytes (stored as they came)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in NDJSON_TYPES:
        return _ndjson(body)
    if kind not in ("", "application/json", "text/plain"):
        raise BadPayload(
            f"unsupported content type '{kind}': send application/json (an object or an array "
            "of objects) or application/x-ndjson (one object per line)"
        )
    stripped = body.strip()
    if not stripped:
        raise BadPayload("the body is empty: send a JSON object, an array of objects or NDJSON")
    try:
        value = json.loads(stripped)
    except ValueError as exc:
        if kind == "" and b"\n" in stripped:
            return _ndjson(body)
        raise BadPayload(f"the body is not valid JSON: {exc}") from None
    if isinstance(value, dict):  # one line is stored as it came; the log holds one per line
        return [value], (None if b"\n" in stripped or b"\r" in stripped else [stripped])
    if isinstance(value, list):
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise BadPayload(
                    f"event {index} of the array is not a JSON object",
                    details={"index": index},
                )
        return value, None
    raise BadPayload("the body is a JSON value but not an object or an array of objects")


def is_ndjson(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in NDJSON_TYPES


def ndjson_lines(body: bytes) -> list[bytes]:
    """The non-blank lines of an NDJSON body, stripped (not parsed yet)."""
    lines = [line.strip() for line in body.split(b"\n")]
    found = [line for line in lines if line]
    if not found:
        raise BadPayload("the body has no events: send one JSON object per line")
    return found


def _ndjson(body: bytes) -> tuple[list[Any], list[bytes]]:
    events: list[Any] = []
    raw: list[bytes] = []
    loads = json.loads
    for number, line in enumerate(body.split(b"\n"), 1):
        line = line.strip()
        if not line:
            continue
        try:
            value = loads(line)
        except ValueError as exc:
            raise BadPayload(
                f"line {number} is not valid JSON: {exc}", details={"line": number}
            ) from None
        if not isinstance(value, dict):
            raise BadPayload(f"line {number} is not a JSON object", details={"line": number})
        events.append(value)
        raw.append(line)
    if not events:
        raise BadPayload("the body has no events: send one JSON object per line")
    return events, raw
