"""The JSON error responses of the security layer (401, 403, 429, CORS refusals).

Same shape as every Interlace API error: ``{"error": {"code", "message", "details",
"request_id"}}`` with the ``X-Request-ID`` header. The request id is the one an outer
request-id middleware chose (:data:`REQUEST_ID`), else the client's ``X-Request-ID``,
else a new one, so a refusal made before any other middleware ran can still be traced.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Mapping

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID = web.RequestKey("interlace.request_id", str)
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id(request: web.BaseRequest) -> str:
    """The id of this request (set once, then reused by every response about it)."""
    known = request.get(REQUEST_ID)
    if isinstance(known, str) and known:
        return known
    given = request.headers.get(REQUEST_ID_HEADER, "")
    chosen = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
    request[REQUEST_ID] = chosen
    return chosen


def error_response(
    request: web.BaseRequest,
    status: int,
    code: str,
    message: str,
    *,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A JSON error response in the API's one error format."""
    rid = request_id(request)
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": dict(details or {}),
            "request_id": rid,
        }
    }
    response = web.json_response(body, status=status, headers=dict(headers or {}))
    response.headers.setdefault(REQUEST_ID_HEADER, rid)
    return response
