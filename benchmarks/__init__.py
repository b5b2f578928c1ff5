"""Interlace benchmark suite: Interlace against the same work hand-written in raw DuckDB.

Run ``uv run --no-sync python -m benchmarks [workload ...] [--quick] [--reps N]``; see README.md.
The one programmatic entry point is :func:`run_workload`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from benchmarks.core import Figure

WORKLOADS = (
    "dag",
    "merge",
    "scd2",
    "ingest",
    "tpch",
    "startup",
    "service",
    "plan",
    "scheduler",
    "streams",
    "ui",
    "spark",
    "process",
    "peers",
)
# what runs when no workload is named: every one but `peers`, which installs dbt, SQLMesh and
# dlt from PyPI into a venv of its own the first time (network)
DEFAULT_WORKLOADS = tuple(w for w in WORKLOADS if w != "peers")


def run_workload(
    name: str,
    quick: bool = False,
    reps: int = 3,
    *,
    size: str | None = None,
    profile: bool = False,
    workdir: Path | None = None,
    log: Any = None,
    **options: Any,
) -> list[Figure]:
    """Run one workload and return its figures (medians in seconds, ratios, targets).

    ``quick`` shrinks the data (``size="quick"``); ``size="smoke"`` shrinks it further, for the
    test suite. ``options`` override workload parameters, e.g. ``sf=0.01`` for tpch,
    ``models=(100,)`` for dag or ``data="wide"`` for merge and scd2. Reports a workload makes
    beside its figures (slowest imports, peer versions, profiles) are printed.
    """
    from benchmarks.core import Bench

    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    module = importlib.import_module(f"benchmarks.workloads.{name}")
    bench = Bench(
        name,
        size=size or ("quick" if quick else "full"),
        reps=reps,
        workdir=workdir,
        profile=profile,
        options=options,
        log=log,
    )
    try:
        if name not in ("startup", "service", "process", "peers"):
            from benchmarks.core import warm_up

            warm_up(bench.tmp)
        figures: list[Figure] = module.run(bench)
    finally:
        bench.cleanup()
    from benchmarks.core import shorten_paths

    for label, profiler in bench.profiles.items():
        print(f"\n===== profile: {name} / {label} ({profiler.kind}) =====")
        print(shorten_paths(profiler.report()))
    for text in bench.reports.values():  # the workload's own reports (imports, versions, ...)
        print()
        print(shorten_paths(text))
    return figures


__all__ = ["DEFAULT_WORKLOADS", "WORKLOADS", "run_workload"]
