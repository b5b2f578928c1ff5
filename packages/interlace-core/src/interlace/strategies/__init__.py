"""Write strategies. Each turns a staged result into statements run in one transaction."""

from __future__ import annotations

from interlace.errors import ModelDefinitionError
from interlace.strategies.append import Append
from interlace.strategies.base import PublishContext, Strategy
from interlace.strategies.none import NoWrite
from interlace.strategies.replace import Replace

STRATEGIES: dict[str, Strategy] = {s.name: s for s in (Replace(), Append(), NoWrite())}


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ModelDefinitionError(
            f"unknown strategy '{name}'", hint=f"use one of: {', '.join(STRATEGIES)}"
        ) from None


__all__ = ["STRATEGIES", "PublishContext", "Strategy", "get_strategy"]
