"""The strategy interface: (staged relation, target, spec, capabilities) -> list of ASTs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlglot import exp

    from interlace.engines.base import Capabilities, Column
    from interlace.spec import ModelSpec


@dataclass(frozen=True)
class PublishContext:
    """Everything a strategy may look at to decide its statements."""

    spec: ModelSpec
    target: exp.Table
    target_name: str
    staging: exp.Table
    target_kind: str | None  # 'table', 'view' or None when absent
    staged_columns: list[Column]
    target_columns: list[Column]
    capabilities: Capabilities
    dialect: str


class Strategy(ABC):
    """Turns a staged result into the statements that publish it, run in one transaction."""

    name: str

    @abstractmethod
    def statements(self, ctx: PublishContext) -> list[exp.Expr]: ...
