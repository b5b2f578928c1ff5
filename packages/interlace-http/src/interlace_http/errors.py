"""The one error format of every Interlace HTTP API.

Every error response has the body ``{"error": {"code", "message", "details", "request_id"}}``
(:class:`ErrorResponse`, in the OpenAPI document as ``Error``): ``code`` is a stable
machine-readable word (``not_found``, ``validation_error``, ...), ``message`` is for people and
says what to do, ``details`` carries structured context (the failing fields, the conflicting
run), ``request_id`` matches the response's ``X-Request-ID`` header (quote it in bug reports).

Handlers raise :class:`HTTPError` (or one of the shortcuts below); the middleware of
:mod:`interlace_http.middleware` renders it. Example::

    from interlace_http.errors import not_found

    if run is None:
        raise not_found(f"no run '{run_id}'", hint="GET /api/v1/runs lists the runs")
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# the codes of the statuses aiohttp raises itself (unknown path, wrong method, ...)
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
    503: "unavailable",
}

STATUS_TITLES: dict[int, str] = {
    400: "Malformed request",
    401: "Missing or invalid credentials",
    403: "Not allowed for these credentials",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Request body too large",
    415: "Unsupported content type",
    422: "Invalid input (the message names the field)",
    429: "Too many requests (see Retry-After)",
    503: "Not available right now",
}


class ErrorBody(BaseModel):
    """What went wrong, for people (``message``) and programs (``code``, ``details``)."""

    model_config = ConfigDict(title="ErrorBody")

    code: str = Field(description="A stable word for the kind of error, e.g. not_found")
    message: str = Field(description="What failed and what to do")
    details: dict[str, Any] = Field(default_factory=dict, description="Structured context")
    request_id: str = Field(description="The X-Request-ID of the request")


class ErrorResponse(BaseModel):
    """The body of every error response."""

    model_config = ConfigDict(title="Error")

    error: ErrorBody


class HTTPError(Exception):
    """An error response: raise it from a handler (or middleware) to answer with it."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code or STATUS_CODES.get(status, "error")
        self.message = f"{message} (hint: {hint})" if hint else message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)

    def body(self, request_id: str) -> dict[str, Any]:
        return ErrorResponse(
            error=ErrorBody(
                code=self.code, message=self.message, details=self.details, request_id=request_id
            )
        ).model_dump(mode="json")


def bad_request(message: str, **kwargs: Any) -> HTTPError:
    return HTTPError(400, message, **kwargs)


def not_found(message: str, **kwargs: Any) -> HTTPError:
    return HTTPError(404, message, **kwargs)


def conflict(message: str, **kwargs: Any) -> HTTPError:
    return HTTPError(409, message, **kwargs)


def unprocessable(message: str, **kwargs: Any) -> HTTPError:
    return HTTPError(422, message, **kwargs)
