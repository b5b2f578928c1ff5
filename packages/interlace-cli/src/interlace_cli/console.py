"""The one way the CLI makes a rich console."""

from __future__ import annotations

import os

from rich.console import Console

PIPED_WIDTH = 200


def make_console() -> Console:
    """A console for people: no automatic highlighting of numbers and paths.

    When output is piped (logs, CI, ``grep``) rich would lay tables out at 80 columns and cut
    names and paths with '…'; a wide layout keeps them whole unless ``COLUMNS`` says otherwise.
    """
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPED_WIDTH
    return console


def fmt_time(seconds: float) -> str:
    """A duration as people read it: 840ms, 2.31s."""
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.2f}s"
