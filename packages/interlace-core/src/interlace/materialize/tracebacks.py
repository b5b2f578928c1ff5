"""A model's exception for people: the traceback shows only the project's own files."""

from __future__ import annotations

import traceback
from pathlib import Path

from interlace.errors import (
    ModelExecutionError,
)


def user_error(
    exc: BaseException, model: str, root: Path, file: str | None = None, line: int | None = None
) -> ModelExecutionError:
    """A model's exception as a ModelExecutionError whose traceback shows only user code."""
    frames = traceback.extract_tb(exc.__traceback__)
    user = [f for f in frames if _is_user_file(f.filename, root)]
    shown = user or frames[-1:]
    tb = "".join(traceback.format_list(shown)) + "".join(traceback.format_exception_only(exc))
    location = None
    if user:
        last = user[-1]
        location = f"{relative_path(last.filename, root)}:{last.lineno}"
    return ModelExecutionError(
        f"{type(exc).__name__}: {exc}",
        model=model,
        file=location.rsplit(":", 1)[0] if location else file,
        line=int(location.rsplit(":", 1)[1]) if location else line,
        user_traceback=tb,
    )


def _is_user_file(filename: str, root: Path) -> bool:
    try:
        Path(filename).resolve().relative_to(root)
    except (ValueError, OSError):
        return False
    return "site-packages" not in filename


def relative_path(filename: str, root: Path) -> str:
    try:
        return str(Path(filename).resolve().relative_to(root))
    except ValueError:
        return filename
