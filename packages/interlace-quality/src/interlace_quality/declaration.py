"""Declared checks -> validated check objects, with errors that say which check and why.

A check is a mapping in one of two forms, holding the same keys:

- shorthand: ``{CHECK_TYPE: VALUE, ...common keys}``. VALUE is a mapping of the type's
  parameters (it may hold common keys too), or, for ``not_null``, ``unique`` and ``expression``,
  their one parameter directly: ``{"not_null": "id"}``, ``{"unique": ["a", "b"]}``,
  ``{"accepted_values": {"column": "status", "values": ["new", "paid"]}, "severity": "warn"}``;
- flat: ``{"type": CHECK_TYPE, ...parameters, ...common keys}``:
  ``{"type": "row_count", "min": 1}``.

Common keys: ``name``, ``severity`` (``error`` | ``warn``), ``where`` (a SQL filter).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from interlace.errors import ModelDefinitionError
from pydantic import ValidationError

from interlace_quality.checks import CHECK_TYPES, BaseCheck
from interlace_quality.checks.base import COMMON_KEYS

FORMS = (
    "write a check as {'not_null': 'id'}, {'unique': ['a', 'b']}, "
    "{'accepted_values': {'column': 'status', 'values': [...]}} or {'type': 'row_count', 'min': 1}"
)


class _Problem(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _shown(declared: Any) -> str:
    text = repr(dict(declared) if isinstance(declared, Mapping) else declared)
    return text if len(text) <= 80 else text[:79] + "…"


def _suggest(key: str, options: list[str]) -> str:
    close = difflib.get_close_matches(key, options, n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def _types_hint(key: str) -> str:
    return f"{_suggest(key, list(CHECK_TYPES))}check types: {', '.join(CHECK_TYPES)}"


def _allowed(cls: type[BaseCheck]) -> list[str]:
    return [*cls.parameters(), *COMMON_KEYS]


def _split(declared: Mapping[str, Any]) -> tuple[type[BaseCheck], dict[str, Any]]:
    """The check type and its flat keys."""
    data = {str(k): v for k, v in declared.items()}
    if "type" in data:
        kind = data.pop("type")
        if not isinstance(kind, str) or kind not in CHECK_TYPES:
            raise _Problem(f"unknown check type {kind!r}", _types_hint(str(kind)))
        return CHECK_TYPES[kind], data
    named = [k for k in data if k not in COMMON_KEYS]
    known = [k for k in named if k in CHECK_TYPES]
    if len(known) > 1:
        raise _Problem(
            f"names several check types ({', '.join(known)})", "write one check per mapping"
        )
    if not known:
        if not named:
            raise _Problem("names no check type", _types_hint(""))
        raise _Problem(f"unknown check type '{named[0]}'", _types_hint(named[0]))
    kind = known[0]
    cls = CHECK_TYPES[kind]
    extra = [k for k in named if k != kind]
    if extra:
        raise _Problem(
            f"unknown key '{extra[0]}' beside '{kind}'",
            f"{_suggest(extra[0], list(COMMON_KEYS))}keys beside the check type: "
            f"{', '.join(COMMON_KEYS)}; parameters go in its value, e.g. "
            f"{{'{kind}': {{{', '.join(repr(p) + ': ...' for p in cls.parameters()[:2])}}}}}",
        )
    value = data.pop(kind)
    if isinstance(value, Mapping):
        params = {str(k): v for k, v in value.items()}
    elif cls.primary is not None:
        params = {cls.primary: value}
    else:
        raise _Problem(
            f"'{kind}' takes a mapping of its parameters, not {value!r:.60}",
            f"e.g. {{'{kind}': {{{', '.join(repr(p) + ': ...' for p in cls.parameters())}}}}}",
        )
    twice = [k for k in data if k in params]
    if twice:
        raise _Problem(f"'{twice[0]}' is given twice", "give it once, inside or beside the check")
    return cls, {**params, **data}


def _validation_problem(cls: type[BaseCheck], exc: ValidationError) -> _Problem:
    # a misspelt key shows up as "missing" and "extra": the extra one is the mistake to report
    error = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    loc = ".".join(str(p) for p in error["loc"])
    key = str(error["loc"][0]) if error["loc"] else ""
    allowed = _allowed(cls)
    keys = f"{cls.check_type} keys: {', '.join(allowed)}"
    if error["type"] == "extra_forbidden":
        return _Problem(
            f"unknown parameter '{loc}' for {cls.check_type}", f"{_suggest(key, allowed)}{keys}"
        )
    if error["type"] == "missing":
        return _Problem(f"{cls.check_type} needs '{loc}'", keys)
    message = str(error["msg"]).removeprefix("Value error, ")
    return _Problem(f"{loc + ': ' if loc else ''}{message}", keys)


def parse_check(declared: Any) -> BaseCheck:
    """One declared check as a validated check object; raises ``_Problem``."""
    if not isinstance(declared, Mapping):
        raise _Problem("is not a mapping", FORMS)
    cls, data = _split(declared)
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise _validation_problem(cls, exc) from None


def parse_checks(
    model: str,
    declared: list[Any],
    file: str | None,
    line: int | None,
    *,
    locations: Sequence[tuple[str | None, int | None]] | None = None,
) -> list[BaseCheck]:
    """Validate a model's declared checks; the first bad one raises a ModelDefinitionError
    naming the model, the file:line, the check and what is allowed. ``locations`` gives each
    check's own file and line (checks written in the config file)."""
    checks: list[BaseCheck] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(declared, start=1):
        where = locations[index - 1] if locations and index <= len(locations) else (file, line)
        try:
            check = parse_check(item)
        except _Problem as problem:
            raise ModelDefinitionError(
                f"quality check #{index} {_shown(item)}: {problem.message}",
                file=where[0],
                line=where[1],
                model=model,
                hint=problem.hint,
            ) from None
        if check.label in seen:
            raise ModelDefinitionError(
                f"quality checks #{seen[check.label]} and #{index} are both named '{check.label}'",
                file=where[0],
                line=where[1],
                model=model,
                hint="results are reported by name: remove the duplicate, or give one a name:",
            )
        seen[check.label] = index
        checks.append(check)
    return checks
