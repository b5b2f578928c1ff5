"""Reading a request's JSON body, query string and path into pydantic models, with errors that
name the field.

- a body over the route's limit is a 413; a body that is not ``application/json`` a 415;
- a body that is not JSON is a 400 saying where it broke;
- a wrong type, a missing or an unknown field is a 422 naming it (``body.select[0]``,
  ``query parameter 'limit'``), with every problem in ``details.errors``.
"""

from __future__ import annotations

import json
import types
import typing
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from interlace_http.errors import HTTPError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aiohttp import web
    from multidict import MultiMapping

M = TypeVar("M", bound=BaseModel)

DEFAULT_MAX_BODY = 1024 * 1024  # bytes
JSON_TYPES = ("application/json",)
# query parameters a route never declares but the auth layer may read (EventSource clients
# cannot send headers): dropped before a route's query model sees the query string
RESERVED_QUERY_PARAMETERS = frozenset({"access_token", "api_key"})


def _where(location: str, loc: tuple[int | str, ...]) -> str:
    """``body.select[0]`` / ``query parameter 'limit'`` for an error location."""
    if location == "query" and loc:
        return f"query parameter '{loc[0]}'"
    if location == "path" and loc:
        return f"path parameter '{loc[0]}'"
    path = location
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _message(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field (not accepted here)"
    if error["type"] == "missing":
        return "required"
    return str(error["msg"])


def validation_error(exc: ValidationError, location: str) -> HTTPError:
    """A 422 naming every field ``exc`` complains about (the first in the message)."""
    problems = [
        {
            "field": _where(location, tuple(e["loc"])),
            "message": _message(e),
            "type": e["type"],
        }
        for e in exc.errors(include_url=False)
    ]
    first = problems[0] if problems else {"field": location, "message": "invalid"}
    more = f" (and {len(problems) - 1} more problem(s), see details)" if len(problems) > 1 else ""
    return HTTPError(
        422,
        f"{first['field']}: {first['message']}{more}",
        code="validation_error",
        details={"errors": problems},
    )


async def read_body(request: web.Request, max_body: int) -> bytes:
    """The raw body, refusing one over ``max_body`` bytes (413) before reading all of it."""
    length = request.content_length
    if length is not None and length > max_body:
        raise _too_large(length, max_body)
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > max_body:
            raise _too_large(size, max_body)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> HTTPError:
    return HTTPError(
        413,
        f"the request body is {'at least ' if size > limit else ''}{size} bytes; "
        f"this endpoint accepts at most {limit}",
        details={"limit": limit},
        hint="send a smaller body (split a batch into several requests)",
    )


async def parse_body(request: web.Request, model: type[M], max_body: int) -> M:
    """The request's JSON body as ``model``; an empty body counts as ``{}``."""
    raw = await read_body(request, max_body)
    if not raw.strip():
        data: Any = {}
    else:
        if request.content_type not in JSON_TYPES:
            raise HTTPError(
                415,
                f"the request body is {request.content_type or 'of no declared type'}; "
                "this endpoint reads application/json",
                details={"accepted": list(JSON_TYPES)},
                hint="send the header Content-Type: application/json",
            )
        try:
            data = json.loads(raw)
        except UnicodeDecodeError:
            raise HTTPError(
                400, "the request body is not UTF-8 text", code="malformed_json"
            ) from None
        except json.JSONDecodeError as exc:
            raise HTTPError(
                400,
                f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} "
                f"column {exc.colno}",
                code="malformed_json",
                details={"line": exc.lineno, "column": exc.colno},
            ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, "body") from None


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return False


def parse_query(query: MultiMapping[str], model: type[M]) -> M:
    """The query string as ``model``: a list field takes every value of its name (repeated,
    or comma-separated); other fields take one."""
    data: dict[str, Any] = {}
    fields = {info.alias or name: info for name, info in model.model_fields.items()}
    for key in query:
        if key in data or key in RESERVED_QUERY_PARAMETERS:
            continue
        declared = fields.get(key)
        if declared is not None and _is_list(declared.annotation):
            data[key] = [part for value in query.getall(key) for part in value.split(",") if part]
        else:
            values = query.getall(key)
            data[key] = values[0] if len(values) == 1 else values
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, "query") from None


def parse_path(match_info: Mapping[str, str], types_: Mapping[str, type]) -> dict[str, Any]:
    """Path parameters converted to their declared types (``int`` ids); a 422 names one that
    does not convert."""
    out: dict[str, Any] = {}
    for name, value in match_info.items():
        kind = types_.get(name, str)
        if kind is int:
            try:
                out[name] = int(value)
                if not -(2**63) <= out[name] < 2**63:
                    raise ValueError(value)
            except ValueError:
                raise HTTPError(
                    422,
                    f"path parameter '{name}': {value!r} is not a whole number (64-bit)",
                    code="validation_error",
                    details={"errors": [{"field": f"path parameter '{name}'"}]},
                ) from None
        else:
            out[name] = value
    return out
