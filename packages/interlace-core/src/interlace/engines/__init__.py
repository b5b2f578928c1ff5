"""Engines: the one place where a database's dialect and capabilities live."""

from __future__ import annotations

from interlace.engines.base import Capabilities, Engine, Session

__all__ = ["Capabilities", "Engine", "Session"]
