"""The `@model` decorator for Python models."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from interlace.spec import ModelOptions, parse_options

F = TypeVar("F", bound=Callable[..., Any])

MODEL_ATTRIBUTE = "__interlace_model__"


@dataclass(frozen=True)
class ModelDeclaration:
    """What `@model` attaches to a function: validated options and where it was written."""

    fn: Callable[..., Any]
    options: ModelOptions
    file: str | None
    line: int | None


@overload
def model(fn: F, /) -> F: ...
@overload
def model(fn: None = None, /, **options: Any) -> Callable[[F], F]: ...


def model(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Declare a Python model. The function stays a plain callable.

    Parameters named like other models receive them as lazy ibis tables; ``context`` and
    ``cursor`` are reserved. Options are validated here, at import: an unknown keyword or a bad
    value is an error that names the file and line.

    Example::

        from interlace import model

        @model(schema="marts", tags=["finance"])
        def revenue(orders):
            return orders.group_by("day").agg(total=orders.amount.sum())
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(func):
            raise TypeError("@model decorates a function")
        code = getattr(func, "__code__", None)
        file = code.co_filename if code else None
        line = code.co_firstlineno if code else None
        name = options.get("name") or getattr(func, "__name__", None)
        parsed = parse_options(options, where=(file, line), model=name)
        if parsed.description is None and func.__doc__:
            parsed = parsed.model_copy(update={"description": inspect.cleandoc(func.__doc__)})
        if parsed.name is None:
            parsed = parsed.model_copy(update={"name": func.__name__})
        setattr(func, MODEL_ATTRIBUTE, ModelDeclaration(func, parsed, file, line))
        return func

    if fn is not None:
        return decorate(fn)
    return decorate


def declaration_of(obj: Any) -> ModelDeclaration | None:
    value = getattr(obj, MODEL_ATTRIBUTE, None)
    return value if isinstance(value, ModelDeclaration) else None
