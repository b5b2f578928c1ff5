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


def test_process_workload_compares_whole_processes(workdir: Path) -> None:
    """The whole-process variants: every figure of the `interlace` command against a raw
    python process is measured (both sides positive), and the results of both sides agreed
    (the workload raises otherwise)."""
    figures = run_workload("process", reps=1, size="smoke", workdir=workdir)
    by_variant = {f.variant: f for f in figures}
    for variant in (
        "dag 20 models cold, 1 worker",
        "dag 20 models cold, default workers",
        "upsert wide 20k into 200k",
        "scd2 wide 20k keys, 2nd batch",
    ):
        figure = by_variant[variant]
        assert figure.interlace and figure.raw, figure.as_dict()
        assert figure.interlace > 0 and figure.raw > 0, figure.as_dict()
    rss = by_variant["upsert wide 20k into 200k: peak RSS, interlace / raw"]
    assert rss.measure is not None and rss.measure > 0, rss.as_dict()
    first = by_variant["start to first model (Python model)"]
    assert first.interlace is not None and first.raw is not None
    assert 0 < first.raw < first.interlace < 60, first.as_dict()


def test_peers_is_not_a_default_workload() -> None:
    """`python -m benchmarks` without workload names never builds the peers' venv."""
    from benchmarks import DEFAULT_WORKLOADS, WORKLOADS

    assert "peers" in WORKLOADS
    assert "peers" not in DEFAULT_WORKLOADS
    assert "process" in DEFAULT_WORKLOADS
