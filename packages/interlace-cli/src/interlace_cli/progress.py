"""Live progress and the summary of `interlace run`, driven purely by run events."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from interlace_cli.console import fmt_time
from interlace_cli.quality import check_line

if TYPE_CHECKING:
    from interlace.events import CheckFinished, Event, ModelFinished
    from interlace.project import Project
    from interlace.results import RunResult

MAX_LIVE_LINES = 12


def _incremental(strategy: str) -> bool:
    """Whether a write of ``strategy`` changes rows (its +inserted ~updated -deleted counts
    say something) rather than becoming the whole table."""
    from interlace.errors import InterlaceError
    from interlace.strategies import get_strategy

    try:
        return get_strategy(strategy).incremental
    except InterlaceError:
        return True  # a strategy this process does not know: show its counts


def first_line(text: str, limit: int | None) -> str:
    """The first line of ``text``; longer than ``limit``, cut at a word boundary with '…'.
    ``None`` keeps it whole (output that is not a terminal: logs and CI keep every word)."""
    line = text.splitlines()[0] if text else ""
    if limit is None or len(line) <= limit:
        return line
    cut = line[: max(limit - 1, 1)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:(") + "…"


def _detail(event: ModelFinished) -> str:
    parts = []
    if event.rows is not None:
        parts.append(f"{event.rows:,} row{'' if event.rows == 1 else 's'}")
    stats = event.stats
    if stats and _incremental(event.strategy):
        parts.append(
            " ".join(
                f"{sign}{stats[key]:,}"
                for key, sign in (("inserted", "+"), ("updated", "~"), ("deleted", "-"))
                if stats.get(key)
            )
            or "no changes"
        )
    if event.attempts > 1:
        parts.append(f"after {event.attempts} attempts")
    if event.message:
        parts.append(event.message)
    return "  ".join(p for p in parts if p)


UNCHANGED_LINES = 50  # a longer burst of unchanged models is summed up (see ProgressView.flush)
UNCHANGED_NAMES = 5


class ProgressView:
    """Prints a line per finished model and shows the running ones live (on a terminal)."""

    def __init__(self, console: Console, total: int, *, verbose: bool = False) -> None:
        self.console = console
        self.total = total
        self.verbose = verbose  # every unchanged model on its own line
        self.running: dict[str, float] = {}
        self.done = 0
        self.counts = {"success": 0, "failed": 0, "skipped": 0}
        # check results arrive before their model's line: printed under it
        self.checks: dict[str, list[CheckFinished]] = {}
        self.printed: set[str] = set()  # models whose line is out (later checks are audits)
        # lines of models skipped as unchanged: they come in bursts (a no-op run of a thousand
        # models), printed together before the next other event and at the end
        self._pending: list[tuple[str, str]] = []

    def __rich__(self) -> Group:
        now = time.perf_counter()
        lines: list[Spinner | Text] = [
            Spinner("dots", Text(f" {name}  {fmt_time(now - started)}", style="cyan"))
            for name, started in list(self.running.items())[:MAX_LIVE_LINES]
        ]
        if len(self.running) > MAX_LIVE_LINES:
            more = len(self.running) - MAX_LIVE_LINES
            lines.append(Text(f"  … and {more} more running", style="dim"))
        lines.append(Text(f"{self.done}/{self.total} models done", style="bold"))
        return Group(*lines)

    def __call__(self, event: Event) -> None:
        from interlace.events import (
            CheckFinished,
            LockWaiting,
            ModelFailed,
            ModelFinished,
            ModelRetrying,
            ModelSkipped,
            ModelStarted,
        )

        if isinstance(event, ModelSkipped) and event.kind == "unchanged":
            self._end(event.model, "skipped")
            self._pending.append((event.model, event.reason))
            return
        self.flush()
        if isinstance(event, ModelStarted):
            self.running[event.model] = time.perf_counter()
        elif isinstance(event, ModelFinished):
            self._end(event.model, "success")
            self._line(
                Text.assemble(
                    ("  ✓ ", "green"),
                    (event.model, "bold"),
                    "  ",
                    (_detail(event), "dim"),
                    "  ",
                    (fmt_time(event.duration), "dim"),
                )
            )
            self._checks(event.model)
        elif isinstance(event, ModelFailed):
            self._end(event.model, "failed")
            self._line(
                Text.assemble(
                    ("  ✗ ", "red"),
                    (event.model, "bold red"),
                    "  ",
                    (first_line(event.error, self._room(event.model)), "red"),
                )
            )
            self._checks(event.model)
        elif isinstance(event, CheckFinished):
            if event.model in self.printed:  # an audit: it ran after the models it reads
                self._line(
                    Text.assemble(("  audit ", "bold"), (event.model, "bold"), ("  ", ""))
                    + check_line(event, indent="")
                )
            else:
                self.checks.setdefault(event.model, []).append(event)
        elif isinstance(event, ModelSkipped):
            self._end(event.model, "skipped")
            self._line(
                Text.assemble(
                    ("  - ", "yellow"),
                    (event.model, "bold"),
                    "  ",
                    (f"skipped: {event.reason}", "yellow"),
                )
            )
        elif isinstance(event, LockWaiting):
            who = f"{event.model}  " if event.model else ""
            self._line(
                Text.assemble(
                    ("  … ", "yellow"),
                    (who, "bold"),
                    (f"waiting for {event.target}: locked by {event.holder}", "yellow"),
                )
            )
        elif isinstance(event, ModelRetrying):
            self._line(
                Text.assemble(
                    ("  ↻ ", "yellow"),
                    (event.model, "bold"),
                    "  ",
                    (
                        f"attempt {event.attempt} failed: "
                        f"{first_line(event.error, self._room(event.model, 40))}; "
                        f"retrying in {event.delay:.1f}s",
                        "yellow",
                    ),
                )
            )

    def _checks(self, model: str) -> None:
        for check in self.checks.pop(model, []):
            self._line(check_line(check))

    def _room(self, model: str, reserved: int = 0) -> int | None:
        """How much of a message fits on a model's line: the terminal's width, or everything
        when the output is not a terminal."""
        if not self.console.is_terminal:
            return None
        return max(40, self.console.width - len(model) - 6 - reserved)

    def _end(self, model: str, status: str) -> None:
        self.printed.add(model)
        self.running.pop(model, None)
        self.done += 1
        self.counts[status] += 1

    def _line(self, text: Text) -> None:
        self.console.print(text, highlight=False, soft_wrap=True)

    def flush(self) -> None:
        """Print the unchanged models held back: a line each, or, for a burst of more than
        ``UNCHANGED_LINES`` (a no-op run of a big project), a line per reason with the count
        and the first names (``-v`` lists each)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        by_reason: dict[str, list[str]] = {}
        for model, reason in pending:
            by_reason.setdefault(reason, []).append(model)
        each = self.verbose or len(pending) <= UNCHANGED_LINES
        lines: list[Text] = []
        for model, reason in pending:  # in order; a long run of one reason becomes one line
            models = by_reason[reason]
            if each or len(models) == 1:
                lines.append(
                    Text.assemble(
                        ("  - ", "dim"), (model, "bold"), "  ", (f"skipped: {reason}", "dim")
                    )
                )
            elif model == models[0]:
                shown = ", ".join(models[:UNCHANGED_NAMES])
                more = f", … (-v lists all {len(models)})" if len(models) > UNCHANGED_NAMES else ""
                lines.append(
                    Text.assemble(
                        ("  - ", "dim"),
                        (f"{len(models)} model(s)", "bold"),
                        "  ",
                        (f"skipped: {reason}: {shown}{more}", "dim"),
                    )
                )
        self._line(Text("\n").join(lines))


def run_with_progress(
    project: Project,
    selection: list[str],
    exclude: list[str],
    *,
    force: bool,
    workers: int | None,
    full_refresh: bool = False,
    verbose: bool,
    since: str | None = None,
    until: str | None = None,
    window: str | None = None,
    lock_timeout: float | None = None,
) -> int:
    """Run with live output; return the process exit code."""
    from interlace.api import incremental_models, run

    from interlace_cli.console import make_console
    from interlace_cli.interrupt import Interrupted, run_interruptibly, stop_message

    console = make_console()
    names = project.select(selection, exclude)
    # without incremental models a window changes nothing: run() runs once, unsplit
    steps = window if window and incremental_models(project, names) else None
    header: list[str | tuple[str, str]] = [
        ("interlace ", "bold"),
        f"{project.name} ",
        (f"[{project.env}]", "cyan"),
        f"  {len(names)} model(s)",
    ]
    if since or until:
        header.append(
            (
                f"  window {since or '…'} → {until or '…'}"
                + (f" in steps of {steps}" if steps else ""),
                "magenta",
            )
        )
    console.print(Text.assemble(*header))
    if window and not steps:
        console.print(
            Text(
                f"note: --window {window} ignored: no selected model is incremental (cursor), "
                "so the models run once",
                style="yellow",
            ),
            soft_wrap=True,
        )
    view = ProgressView(console, len(names), verbose=verbose)
    started = time.perf_counter()

    def cancelling(signum: int) -> None:
        running = len(view.running)
        waiting = f": waiting for {running} running model(s) to stop" if running else ""
        console.print(Text(f"\n{stop_message(signum, waiting)}", style="yellow"), soft_wrap=True)

    def execute() -> RunResult:
        return run_interruptibly(
            run(
                project,
                selection,
                exclude,
                force=force,
                full_refresh=full_refresh,
                max_workers=workers,
                since=since,
                until=until,
                window=window,
                on_event=view,
                lock_timeout=lock_timeout,
            ),
            on_cancel=cancelling,
        )

    try:
        if console.is_terminal:
            with Live(view, console=console, refresh_per_second=8, transient=True):
                result = execute()
                view.flush()
        else:
            result = execute()
            view.flush()
    except KeyboardInterrupt as exc:
        view.flush()
        stop = exc if isinstance(exc, Interrupted) else Interrupted()
        how = "terminated (SIGTERM), run cancelled" if stop.terminated else "cancelled"
        console.print(
            Text(
                f"\n{how} after {fmt_time(time.perf_counter() - started)}: "
                f"{view.counts['success']} done, {len(view.running)} interrupted",
                style="yellow",
            ),
            soft_wrap=True,
        )
        return stop.exit_code
    return print_summary(console, result, verbose=verbose)


def print_summary(console: Console, result: RunResult, *, verbose: bool) -> int:
    if result.windows:
        console.print(Text(f"{len(result.windows)} window(s) run", style="magenta"))
        failed_windows = [w for w in result.windows if not w.success]
        if failed_windows:
            result = failed_windows[0]
    failed = result.failed
    skipped = result.skipped
    unchanged = sum(1 for m in skipped if m.skip_kind == "unchanged")
    counts = [f"{len(result.succeeded)} succeeded", f"{len(failed)} failed"]
    if unchanged:
        counts.append(f"{unchanged} unchanged")
    if len(skipped) - unchanged:
        counts.append(f"{len(skipped) - unchanged} skipped")
    # error checks that ran after their model was built (audits) and failed
    audited = [
        (model.name, check)
        for model in result.models.values()
        if model.status != "failed"
        for check in model.checks
        if check.blocks
    ]
    if audited:
        counts.append(f"{len(audited)} audit check(s) failed")
    style = "green" if result.success else "red"
    console.print()
    console.print(
        Text(
            f"{'Done' if result.success else 'Failed'} in "
            f"{fmt_time(result.duration)}: " + ", ".join(counts),
            style=f"bold {style}",
        )
    )
    # soft_wrap: paths and traceback lines stay whole when piped (logs, grep, CI)
    for model in failed:
        console.print(
            Text.assemble((model.name, "bold red"), "  ", (model.location or "", "dim")),
            soft_wrap=True,
        )
        console.print(Text(f"  {model.error}", style="red"), soft_wrap=True)
        shown = model.full_traceback if verbose else model.traceback
        if shown:
            for line in shown.rstrip().splitlines():
                console.print(Text(f"    {line}", style="dim"), soft_wrap=True)
    for name, check in audited:
        console.print(
            Text.assemble(
                (check.model, "bold red"),
                f"  checked after the run{f' (reported with {name})' if name != check.model else ''}",
            ),
            soft_wrap=True,
        )
        console.print(check_line(check, indent="  "), soft_wrap=True)
    return 0 if result.success else 1
