"""The check types, by the name a declaration uses."""

from __future__ import annotations

from interlace_quality.checks.accepted_values import AcceptedValues
from interlace_quality.checks.base import BaseCheck
from interlace_quality.checks.expression import Expression
from interlace_quality.checks.freshness import Freshness
from interlace_quality.checks.not_null import NotNull
from interlace_quality.checks.range import Range
from interlace_quality.checks.relationships import Relationships
from interlace_quality.checks.row_count import RowCount
from interlace_quality.checks.unique import Unique

CHECK_TYPES: dict[str, type[BaseCheck]] = {
    cls.check_type: cls
    for cls in (
        NotNull,
        Unique,
        AcceptedValues,
        RowCount,
        Freshness,
        Expression,
        Relationships,
        Range,
    )
}

__all__ = [
    "CHECK_TYPES",
    "AcceptedValues",
    "BaseCheck",
    "Expression",
    "Freshness",
    "NotNull",
    "Range",
    "Relationships",
    "RowCount",
    "Unique",
]
