"""What the API's handlers share: calling the state store off the loop, turning Interlace's
errors for people into HTTP errors, finding a model or 404, and naming the caller."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any, TypeVar

from interlace.errors import InterlaceError, SelectionError
from interlace.window import WindowError
from interlace_http.errors import HTTPError

from interlace_service.service import service_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp import web
    from interlace.project import Project
    from interlace.spec import ModelSpec

T = TypeVar("T")

_CODES: dict[type[InterlaceError], str] = {
    SelectionError: "selection_error",
    WindowError: "window_error",
}


def user_error(exc: InterlaceError) -> HTTPError:
    """A 422 carrying an Interlace error's message and hint (it names what to fix)."""
    code = next((c for kind, c in _CODES.items() if isinstance(exc, kind)), "invalid_request")
    details: dict[str, Any] = {"kind": type(exc).__name__}
    for key in ("model", "file", "line"):
        value = getattr(exc, key, None)
        if value is not None:
            details[key] = value
    return HTTPError(422, exc.message, code=code, hint=exc.hint, details=details)


async def blocking(request: web.Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args)`` on a thread (state store calls block); Interlace errors become 422s."""
    try:
        return await service_of(request).io(fn, *args, **kwargs)
    except InterlaceError as exc:
        raise user_error(exc) from None


def model_or_404(project: Project, name: str) -> ModelSpec:
    """The model ``name`` (or ``schema.name``), or a 404 suggesting close names."""
    found = project.lookup(name)
    if found is None:
        close = difflib.get_close_matches(name, list(project.models), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "GET /api/v1/models lists them"
        raise HTTPError(404, f"no model '{name}' in project {project.name}", hint=hint)
    return project.models[found]


def caller(request: web.Request) -> str:
    """Who made the request, as run records name them."""
    from interlace_http.principal import principal_of

    principal = principal_of(request)
    return principal.label if principal is not None else "anonymous"
