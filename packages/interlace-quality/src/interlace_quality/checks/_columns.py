"""The ``columns`` parameter shared by check types that take one or several columns."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator


def _one_or_many(value: Any) -> Any:
    """``"id"`` means ``["id"]``."""
    return (value,) if isinstance(value, str) else value


def _no_blank(values: tuple[str, ...]) -> tuple[str, ...]:
    if not values:
        raise ValueError("name at least one column")
    if any(not v.strip() for v in values):
        raise ValueError("column names cannot be empty")
    if len(set(values)) != len(values):
        raise ValueError(f"a column is named twice in {list(values)}")
    return values


Columns = Annotated[tuple[str, ...], BeforeValidator(_one_or_many), AfterValidator(_no_blank)]
