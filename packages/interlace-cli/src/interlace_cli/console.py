"""The one way the CLI makes a rich console."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.text import Text

PIPED_WIDTH = 200
BOXED_ROWS = 100  # above this, a table prints as aligned columns (rich needs ~1 s per 1,000 rows)


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


def print_table(
    console: Console, title: str, columns: Sequence[str], rows: Sequence[Sequence[str | Text]]
) -> None:
    """A titled table: boxed by rich for up to ``BOXED_ROWS`` rows; beyond, the same columns
    aligned with two spaces between them (a header in bold, each line cut at the console's
    width), which prints a thousand rows in a few milliseconds."""
    from rich.table import Table
    from rich.text import Text

    if len(rows) <= BOXED_ROWS:
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    cells = [[cell if isinstance(cell, Text) else Text(cell) for cell in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], cell.cell_len)
    last = len(columns) - 1
    lines = Text(no_wrap=True, overflow="ellipsis")
    lines.append(f"{title}\n", style="italic")
    header = "  ".join(c.ljust(widths[i]) if i < last else c for i, c in enumerate(columns))
    lines.append(header.rstrip() + "\n", style="bold")
    for row in cells:
        for i, cell in enumerate(row):
            lines.append_text(cell)
            if i < last:
                lines.append(" " * (widths[i] - cell.cell_len + 2))
        lines.append("\n")
    lines.rstrip()
    console.print(lines, crop=True)
