"""The state store: run history and everything a later run or another process needs to read."""

from __future__ import annotations

from interlace.state.base import ModelRunRecord, RunRecord, StateStore
from interlace.state.recorder import StateRecorder
from interlace.state.sqlite import SQLiteStateStore

__all__ = ["ModelRunRecord", "RunRecord", "SQLiteStateStore", "StateRecorder", "StateStore"]
