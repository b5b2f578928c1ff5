"""Running a selection of the graph in parallel."""

from __future__ import annotations

from interlace.execution.executor import Executor

__all__ = ["Executor"]
