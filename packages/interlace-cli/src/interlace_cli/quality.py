"""Quality check output: one line per check (in `interlace run`) and `interlace run --quality-only`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.text import Text

if TYPE_CHECKING:
    from interlace.project import Project
    from interlace.quality import CheckResult
    from rich.console import Console

SAMPLE_WIDTH = 160


def _value(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)  # dates as 2024-01-31, not repr


def _sample(row: dict[str, Any]) -> str:
    text = "{" + ", ".join(f"{k}: {_value(v)}" for k, v in row.items()) + "}"
    return text if len(text) <= SAMPLE_WIDTH else text[: SAMPLE_WIDTH - 1] + "…"


def check_line(check: Any, indent: str = "    ") -> Text:
    """A check result (a CheckResult or a CheckFinished event) as one line.

    ``✓ name`` when it passed; ``✗ name: what failed  e.g. {first failing row}`` otherwise
    (``!`` and yellow for a warn check, which does not block publication).
    """
    name = check.name + (" (warn)" if check.severity == "warn" else "")
    if check.status == "passed":
        return Text.assemble((f"{indent}✓ ", "green"), (name, "dim"))
    style = "yellow" if check.severity == "warn" else "red"
    mark = "!" if check.severity == "warn" else "✗"
    if check.status == "error":
        detail = f"could not run: {check.message}"
    else:
        detail = check.message or f"{check.failing_rows:,} failing row(s)"
    parts: list[str | tuple[str, str]] = [(f"{indent}{mark} ", style), (name, f"bold {style}")]
    parts.append((f": {detail}", style))
    if check.sample:
        parts.append((f"  e.g. {_sample(dict(check.sample[0]))}", "dim"))
    return Text.assemble(*parts)


def check_with_output(
    project: Project,
    console: Console,
    selection: list[str],
    exclude: list[str],
    *,
    workers: int | None,
) -> int:
    """``interlace run --quality-only``: run the declared checks on the existing tables and
    views, print them by model, and return the exit code (1 when an error check failed)."""
    from interlace.api import check, checked_models

    from interlace_cli.interrupt import Interrupted, run_interruptibly, stop_message

    names = checked_models(project, selection, exclude)
    console.print(
        Text.assemble(
            ("interlace ", "bold"),
            f"{project.name} ",
            (f"[{project.env}]", "cyan"),
            f"  quality checks of {len(names)} model(s)",
        )
    )
    if not names:
        console.print(Text("no quality checks are declared for the selected models", style="dim"))
        return 0
    started = time.perf_counter()
    try:
        results = run_interruptibly(
            check(project, selection, exclude, max_workers=workers),
            on_cancel=lambda signum: console.print(
                Text(f"\n{stop_message(signum)}", style="yellow")
            ),
        )
    except KeyboardInterrupt as exc:
        stop = exc if isinstance(exc, Interrupted) else Interrupted()
        console.print(Text("terminated" if stop.terminated else "cancelled", style="yellow"))
        return stop.exit_code
    print_checks(console, results)
    return summarize(console, results, time.perf_counter() - started)


def print_checks(console: Console, results: list[CheckResult]) -> None:
    model = None
    for result in results:
        if result.model != model:
            model = result.model
            console.print(Text(f"  {model}", style="bold"), soft_wrap=True)
        console.print(check_line(result), soft_wrap=True)


def summarize(console: Console, results: list[CheckResult], duration: float) -> int:
    from interlace_cli.console import fmt_time

    blocking = [r for r in results if r.blocks]
    warnings = [r for r in results if r.severity == "warn" and r.status != "passed"]
    passed = [r for r in results if r.status == "passed"]
    counts = [f"{len(passed)} passed"]
    if blocking:
        counts.insert(0, f"{len(blocking)} error check(s) failed")
    if warnings:
        counts.append(f"{len(warnings)} warning(s)")
    console.print()
    console.print(
        Text(
            f"{'Failed' if blocking else 'Done'} in {fmt_time(duration)}: " + ", ".join(counts),
            style="bold red" if blocking else "bold green",
        )
    )
    return 1 if blocking else 0
