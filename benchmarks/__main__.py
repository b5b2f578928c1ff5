"""``python -m benchmarks [workload ...] [--quick] [--reps N] [--profile WORKLOAD]``."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from benchmarks import DEFAULT_WORKLOADS, WORKLOADS, run_workload
from benchmarks.core import Figure, format_table


def machine() -> str:
    import os

    import duckdb

    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, duckdb {duckdb.__version__}"
    )


def _load() -> str:
    import os

    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Interlace against the same work hand-written in raw DuckDB. Prints medians, "
        "ratios (interlace / raw) and targets.",
    )
    parser.add_argument(
        "workloads",
        nargs="*",
        metavar="workload",
        help=f"which to run: {', '.join(WORKLOADS)} (default: all but peers)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small data (whole suite in well under a minute)"
    )
    parser.add_argument(
        "--size",
        choices=("full", "quick", "smoke"),
        default=None,
        help="data size (--quick is --size quick; smoke is what the test suite uses)",
    )
    parser.add_argument(
        "--reps",
        type=int,
        default=None,
        help="repetitions per measurement (default 3; 2 with --quick; 1 for the profiled workload)",
    )
    parser.add_argument(
        "--profile",
        metavar="WORKLOAD",
        choices=WORKLOADS,
        help="run that workload's Interlace side under cProfile (pyinstrument if installed) and "
        "print the top 25 entries by cumulative and by own time",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="scratch and cache folder (default: $TMPDIR/interlace-bench; generated data is "
        "cached there between invocations)",
    )
    parser.add_argument(
        "--data",
        choices=("narrow", "wide", "both"),
        default=None,
        help="merge and scd2: the regular data, the wide random rows, or both (default both)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)

    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        parser.error(
            f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}"
        )
    selected = list(dict.fromkeys(args.workloads)) or (
        [args.profile] if args.profile else list(DEFAULT_WORKLOADS)
    )
    if args.profile and args.profile not in selected:
        selected.append(args.profile)
    size = args.size or ("quick" if args.quick else "full")

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    log(f"# {machine()}; size {size}; load average {_load()}")
    load_start = _load()
    figures: list[Figure] = []
    failures: list[str] = []
    started = time.perf_counter()
    for name in selected:
        profile = name == args.profile
        reps = (
            args.reps if args.reps is not None else (1 if profile else 2 if size != "full" else 3)
        )
        t0 = time.perf_counter()
        try:
            options = {"data": args.data} if args.data else {}
            figures += run_workload(
                name,
                reps=reps,
                size=size,
                profile=profile,
                workdir=args.workdir,
                log=log,
                **options,
            )
        except Exception as exc:  # keep going: one broken workload should not hide the others
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            log(f"[{name}] FAILED: {type(exc).__name__}: {exc}")
        log(f"[{name}] done in {time.perf_counter() - t0:.1f} s")
    print()
    print(
        f"machine: {machine()}; size: {size}; wall time {time.perf_counter() - started:.0f} s; "
        f"load average at start {load_start}, at end {_load()}"
    )
    if args.profile:
        print("(timings of the profiled workload include the profiler's overhead)")
    print(format_table(figures, markdown=args.markdown))
    if failures:
        print("\nfailed workloads:\n  " + "\n  ".join(failures))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "size": size,
                    "load_average": [load_start, _load()],
                    "figures": [f.as_dict() for f in figures],
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
