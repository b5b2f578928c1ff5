"""Write strategies. Each turns a staged result into statements run in one transaction.

Core knows strategies only through the registry: the built-in ones (``replace``, ``append``,
``merge_by_key``, ``scd_type_2``, ``none``) are entry points of the ``interlace.strategies``
group like any other distribution's, and :func:`register_strategy` adds one in-process.
"""

from __future__ import annotations

from interlace.strategies.base import OptionProblem, PublishContext, Step, Strategy
from interlace.strategy_registry import (
    get_strategy,
    register_strategy,
    registered_strategies,
    strategy_names,
    unregister_strategy,
)

__all__ = [
    "OptionProblem",
    "PublishContext",
    "Step",
    "Strategy",
    "get_strategy",
    "register_strategy",
    "registered_strategies",
    "strategy_names",
    "unregister_strategy",
]
