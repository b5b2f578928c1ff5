"""Live progress and the summary of `interlace run`, driven purely by run events."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from interlace.events import Event
    from interlace.project import Project
    from interlace.results import RunResult


def _fmt_rows(rows: int | None) -> str:
    return "" if rows is None else f"{rows:,} rows"


def _fmt_time(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.2f}s"


class ProgressView:
    """Prints a line per finished model and shows the running ones live (on a terminal)."""

    def __init__(self, console: Console, total: int) -> None:
        self.console = console
        self.total = total
        self.running: dict[str, float] = {}
        self.done = 0
        self.counts = {"success": 0, "failed": 0, "skipped": 0}
        self.live: Live | None = None

    def __rich__(self) -> Group:
        now = time.perf_counter()
        lines: list[Spinner | Text] = [
            Spinner("dots", Text(f" {name}  {_fmt_time(now - started)}", style="cyan"))
            for name, started in list(self.running.items())[:12]
        ]
        if len(self.running) > 12:
            lines.append(Text(f"  … and {len(self.running) - 12} more running", style="dim"))
        lines.append(Text(f"{self.done}/{self.total} models done", style="bold"))
        return Group(*lines)

    def __call__(self, event: Event) -> None:
        from interlace.events import ModelFailed, ModelFinished, ModelSkipped, ModelStarted

        if isinstance(event, ModelStarted):
            self.running[event.model] = time.perf_counter()
        elif isinstance(event, ModelFinished):
            self.running.pop(event.model, None)
            self.done += 1
            self.counts["success"] += 1
            detail = " ".join(x for x in (_fmt_rows(event.rows), event.message or "") if x)
            self._line(
                Text.assemble(
                    ("  ✓ ", "green"),
                    (event.model, "bold"),
                    "  ",
                    (detail, "dim"),
                    "  ",
                    (_fmt_time(event.duration), "dim"),
                )
            )
        elif isinstance(event, ModelFailed):
            self.running.pop(event.model, None)
            self.done += 1
            self.counts["failed"] += 1
            self._line(
                Text.assemble(
                    ("  ✗ ", "red"),
                    (event.model, "bold red"),
                    "  ",
                    (event.error.splitlines()[0][:200], "red"),
                )
            )
        elif isinstance(event, ModelSkipped):
            self.running.pop(event.model, None)
            self.done += 1
            self.counts["skipped"] += 1
            self._line(
                Text.assemble(
                    ("  - ", "yellow"),
                    (event.model, "bold"),
                    "  ",
                    (f"skipped: {event.reason}", "yellow"),
                )
            )

    def _line(self, text: Text) -> None:
        self.console.print(text, highlight=False, soft_wrap=True)


def run_with_progress(
    project: Project,
    selection: list[str],
    exclude: list[str],
    *,
    force: bool,
    workers: int | None,
    verbose: bool,
) -> int:
    """Run with live output; return the process exit code."""
    from interlace.api import run

    console = Console(highlight=False)
    names = project.select(selection, exclude)
    console.print(
        Text.assemble(
            ("interlace ", "bold"),
            f"{project.name} ",
            (f"[{project.env}]", "cyan"),
            f"  {len(names)} model(s)",
        )
    )
    view = ProgressView(console, len(names))
    started = time.perf_counter()
    result: RunResult | None = None
    try:
        if console.is_terminal:
            with Live(view, console=console, refresh_per_second=8, transient=True) as live:
                view.live = live
                result = asyncio.run(
                    run(
                        project, selection, exclude, force=force, max_workers=workers, on_event=view
                    )
                )
        else:
            result = asyncio.run(
                run(project, selection, exclude, force=force, max_workers=workers, on_event=view)
            )
    except KeyboardInterrupt:
        console.print(
            Text(
                f"\ncancelled after {_fmt_time(time.perf_counter() - started)}: "
                f"{view.counts['success']} done, {len(view.running)} interrupted",
                style="yellow",
            )
        )
        return 130
    return print_summary(console, result, verbose=verbose)


def print_summary(console: Console, result: RunResult, *, verbose: bool) -> int:
    failed = result.failed
    table = Table.grid(padding=(0, 2))
    counts = (
        f"{len(result.succeeded)} succeeded",
        f"{len(failed)} failed",
        f"{len(result.skipped)} skipped",
    )
    style = "green" if result.success else "red"
    console.print()
    console.print(
        Text(
            f"{'Done' if result.success else 'Failed'} in {_fmt_time(result.duration)}: "
            + ", ".join(counts),
            style=f"bold {style}",
        )
    )
    for model in failed:
        table.add_row(Text(model.name, style="bold red"), Text(model.location or "", style="dim"))
        console.print(table)
        table = Table.grid(padding=(0, 2))
        console.print(Text(f"  {model.error}", style="red"))
        if model.traceback and (verbose or model.error_type == "ModelExecutionError"):
            for line in model.traceback.rstrip().splitlines():
                console.print(Text(f"    {line}", style="dim"))
    return 0 if result.success else 1
