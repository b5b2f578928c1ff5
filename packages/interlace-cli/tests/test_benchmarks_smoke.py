"""Smoke test of the benchmark suite (benchmarks/ at the repository root).

Every workload runs once at the smallest size and must report positive times. Nothing here is
timed against a target: the figures themselves are for `python -m benchmarks` / `nox -s bench`.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks import run_workload  # noqa: E402

WORKLOADS = ["dag", "merge", "scd2", "ingest", "tpch", "startup", "plan", "service", "streams"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench")


@pytest.mark.parametrize("name", WORKLOADS)
def test_workload_reports_positive_times(name: str, workdir: Path) -> None:
    options = {"sf": 0.01} if name == "tpch" else {}
    figures = run_workload(name, quick=True, reps=1, size="smoke", workdir=workdir, **options)
    assert figures, f"{name} returned no figures"
    for figure in figures:
        as_dict = figure.as_dict()
        assert as_dict["workload"] == name
        times = [as_dict[k] for k in ("interlace_s", "raw_s") if as_dict[k] is not None]
        if as_dict["kind"] in ("mb", "rate", "ms"):
            assert as_dict["measure"] > 0, as_dict
        else:
            assert times, as_dict
        for value in times:
            assert value > 0 and math.isfinite(value), as_dict
