"""How a model's failure is worded for people: the database's own words with our internal
relation names translated, or the model's exception with the user's frames only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from interlace.errors import (
    InterlaceError,
    ModelExecutionError,
)
from interlace.materialize.tracebacks import user_error

if TYPE_CHECKING:
    from interlace.engines.base import Engine


def short_message(error: BaseException) -> str:
    text = (
        error.message if isinstance(error, InterlaceError) else f"{type(error).__name__}: {error}"
    )
    return text.splitlines()[0] if text else type(error).__name__


def _internal_names(text: str) -> str:
    """Say the model's name where an engine message names our staging relations."""
    text = re.sub(r"__il_stage_(\w+?)_[0-9a-f]{8}", r"\1 (staged result)", text)
    text = re.sub(r"__il_py_(\w+?)_[0-9a-f]{8}", r"\1 (Python result)", text)
    return re.sub(r"__il_diff_(\w+)", r"\1 (change set)", text)


def engine_error(engine: Engine, error: BaseException, model: str, root: Path) -> InterlaceError:
    """An engine or unexpected error, worded for people."""
    if engine.raised_by_driver(error):
        text = _internal_names(str(error).strip())
        return ModelExecutionError(
            f"{type(error).__name__}: {text}",
            model=model,
            hint="the database refused a statement of this model",
        )
    return user_error(error, model, root)
