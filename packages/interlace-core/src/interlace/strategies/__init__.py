"""Write strategies. Each turns a staged result into statements run in one transaction."""

from __future__ import annotations

from interlace.errors import ModelDefinitionError
from interlace.strategies.append import Append
from interlace.strategies.base import PublishContext, Step, Strategy
from interlace.strategies.merge_by_key import MergeByKey
from interlace.strategies.none import NoWrite
from interlace.strategies.replace import Replace
from interlace.strategies.scd_type_2 import SCDType2

STRATEGIES: dict[str, Strategy] = {
    s.name: s for s in (Replace(), Append(), MergeByKey(), SCDType2(), NoWrite())
}


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ModelDefinitionError(
            f"unknown strategy '{name}'", hint=f"use one of: {', '.join(STRATEGIES)}"
        ) from None


__all__ = ["STRATEGIES", "PublishContext", "Step", "Strategy", "get_strategy"]
