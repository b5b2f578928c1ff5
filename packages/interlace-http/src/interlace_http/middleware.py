"""Request ids and error rendering: the two middlewares every Interlace app runs first.

- :func:`request_ids`: each request gets an id (the client's ``X-Request-ID`` when it is a sane
  token, else a new one), kept under :data:`interlace_http.denials.REQUEST_ID` and sent back as ``X-Request-ID`` on
  every response, streams and aiohttp's own errors included (a response-prepare hook sets it).
- :func:`errors`: :class:`~interlace_http.errors.HTTPError`, aiohttp's HTTP exceptions (unknown
  path, wrong method) and anything unexpected become the JSON error format; an unexpected
  exception is logged with its traceback and answered with a 500 that shows none.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from interlace_http.denials import REQUEST_ID_HEADER, request_id
from interlace_http.errors import STATUS_CODES, HTTPError

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

log = logging.getLogger("interlace.http")

HEADER = REQUEST_ID_HEADER


def request_id_of(request: web.BaseRequest) -> str:
    """The request's id (assigned on first use; the security layer's refusals share it)."""
    return request_id(request)


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id_of(request)
    return await handler(request)


def error_response(request: web.BaseRequest, error: HTTPError) -> web.Response:
    response = web.json_response(error.body(request_id_of(request)), status=error.status)
    response.headers.update(error.headers)
    return response


def _from_aiohttp(exc: web.HTTPException) -> HTTPError:
    status = exc.status
    if status == 404:
        message = "no such endpoint: GET /api/openapi.json lists them"
    elif status == 405:
        allowed = exc.headers.get("Allow", "")
        message = f"this endpoint does not accept this method (it accepts {allowed})"
    elif status == 413:
        message = "the request body is too large"
    else:
        message = exc.text or exc.reason
        message = message.removeprefix(f"{status}: ")
    headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
    return HTTPError(status, message, code=STATUS_CODES.get(status, "error"), headers=headers)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HTTPError as exc:
        return error_response(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like
        return error_response(request, _from_aiohttp(exc))
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        rid = request_id_of(request)
        log.exception("request %s %s failed (request id %s)", request.method, request.path, rid)
        return error_response(
            request,
            HTTPError(
                500,
                "the server failed on this request; the server log has the details under its "
                f"request id {rid}",
                code="internal_error",
            ),
        )


async def _stamp(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[HEADER] = request_id_of(request)


def install(app: web.Application) -> None:
    """Put the request-id and error middlewares first and stamp every response's id."""
    app.middlewares.insert(0, errors)
    app.middlewares.insert(0, request_ids)
    app.on_response_prepare.append(_stamp)
