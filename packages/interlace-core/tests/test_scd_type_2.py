"""`scd_type_2`: every version of a row with validity intervals (SPEC §3.2, §3.3).

The property tests feed random sequences of batches (keys appearing, changing, disappearing and
coming back) to a real project, one run per batch, and check the published history against the
invariants of SCD2 and against a small reference model of what each run must write. Examples
of each delete mode run on every engine in interlace-connections' engine suite
(tests/engines/test_engine_scd_type_2.py); the statements in test_strategy_statements.py.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from interlace.testing import ProjectFolder

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir

SCD2_MODEL = """
import json
from pathlib import Path

import pyarrow as pa
from interlace import model

SCHEMA = pa.schema([("k", pa.int64()), ("t", pa.string()), ("u", pa.int64())])

@model(strategy="scd_type_2", primary_key="k", delete_mode={delete_mode!r}{extra})
def dim():
    rows = json.loads((Path(__file__).parent.parent / "input.json").read_text())
    return pa.Table.from_pylist(rows, schema=SCHEMA)
"""

CONFIG = """\
name: scd2
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
"""

Batch = dict[int, tuple[str | None, int]]  # key -> (tracked value t, value u)


def write_project(root: Path, delete_mode: str, tracked_only_t: bool) -> ProjectFolder:
    extra = ', scd2={"tracked_columns": ["t"]}' if tracked_only_t else ""
    model = SCD2_MODEL.format(delete_mode=delete_mode, extra=extra)
    return ProjectFolder.create(root, config=CONFIG).write({"models/dim.py": model})


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def run_batch(
    project: ProjectFolder, batch: Batch
) -> tuple[dict[str, int], list[dict[str, Any]], tuple[dt.datetime, dt.datetime]]:
    rows = [{"k": k, "t": t, "u": u} for k, (t, u) in sorted(batch.items())]
    project.write({"input.json": json.dumps(rows)})
    before = now()
    result = project.run_ok()
    after = now()
    dim = result.models["dim"]
    table = project.rows("dim", "k, valid_from")
    stats = {k: dim.stats.get(k, 0) for k in ("inserted", "updated", "deleted")}
    return stats, table, (before, after)


# ---------------------------------------------------------------------------- reference model


@dataclass
class Version:
    key: int
    t: str | None
    u: int
    deleted: bool
    start: int  # run index that opened it
    end: int | None = None  # run index that closed it


@dataclass
class Reference:
    """What each run must write, in run indexes instead of timestamps."""

    delete_mode: str
    tracked_only_t: bool
    versions: list[Version] = field(default_factory=list)

    def current(self, key: int) -> Version | None:
        found = [v for v in self.versions if v.key == key and v.end is None]
        assert len(found) <= 1
        return found[0] if found else None

    def apply(self, run: int, batch: Batch) -> dict[str, int]:
        stats = {"inserted": 0, "updated": 0, "deleted": 0}
        for key, (t, u) in sorted(batch.items()):
            cur = self.current(key)
            if cur is None:
                stats["inserted"] += 1
            elif cur.deleted or cur.t != t or (not self.tracked_only_t and cur.u != u):
                cur.end = run
                stats["updated"] += 1
            else:
                continue
            self.versions.append(Version(key, t, u, False, run))
        for key in sorted({v.key for v in self.versions} - set(batch)):
            cur = self.current(key)
            if cur is None or self.delete_mode == "ignore" or cur.deleted:
                continue
            cur.end = run
            stats["deleted"] += 1
            if self.delete_mode == "soft_mark":
                self.versions.append(Version(key, cur.t, cur.u, True, run))
        return stats

    def rows(self) -> list[tuple[Any, ...]]:
        return sorted(
            (v.key, v.start, v.end, v.t, v.u, v.end is None, v.deleted) for v in self.versions
        )


def run_index(ts: dt.datetime | None, spans: list[tuple[dt.datetime, dt.datetime]]) -> int | None:
    if ts is None:
        return None
    matches = [i for i, (low, high) in enumerate(spans) if low <= ts <= high]
    assert len(matches) == 1, (ts, spans)
    return matches[0]


# ---------------------------------------------------------------------------- invariants


def check_invariants(table: list[dict[str, Any]], delete_mode: str) -> None:
    by_key: dict[int, list[dict[str, Any]]] = {}
    for row in table:
        by_key.setdefault(row["k"], []).append(row)
    for key, versions in by_key.items():
        current = [v for v in versions if v["is_current"]]
        assert len(current) <= 1, f"key {key} has {len(current)} current rows"
        for v in versions:
            # current exactly when open-ended
            assert v["is_current"] == (v["valid_to"] is None), v
            assert v["valid_to"] is None or v["valid_to"] > v["valid_from"], v
        ordered = sorted(versions, key=lambda v: v["valid_from"])
        for older, newer in itertools.pairwise(ordered):
            assert older["valid_to"] is not None, f"key {key}: a closed version is still open"
            assert older["valid_to"] <= newer["valid_from"], f"key {key}: overlapping versions"
            if delete_mode in ("ignore", "soft_mark"):
                assert older["valid_to"] == newer["valid_from"], f"key {key}: gap in history"
        if delete_mode in ("ignore", "soft_mark"):
            assert ordered[-1]["is_current"], f"key {key} lost its current version"


# ---------------------------------------------------------------------------- property tests

values = st.tuples(st.sampled_from(["a", "b", None]), st.integers(0, 1))
batches = st.dictionaries(st.integers(1, 4), values, max_size=4)
first_batch = st.dictionaries(st.integers(1, 4), values, min_size=1, max_size=4)
histories = st.tuples(first_batch, st.lists(batches, min_size=2, max_size=5)).map(
    lambda pair: [pair[0], *pair[1]]
)
# unchanged reruns are the interesting case: repeat some batches verbatim
histories = st.one_of(
    histories,
    histories.map(lambda hs: [b for batch in hs[:3] for b in (batch, batch)]),
)


@settings(max_examples=25, deadline=None)
@given(
    history=histories,
    delete_mode=st.sampled_from(["ignore", "soft", "soft_mark"]),
    tracked_only_t=st.booleans(),
)
def test_scd_type_2_history_matches_reference_and_keeps_invariants(
    history: list[Batch], delete_mode: str, tracked_only_t: bool
) -> None:
    with tempfile.TemporaryDirectory(prefix="scd2_") as folder:
        project = write_project(Path(folder), delete_mode, tracked_only_t)
        reference = Reference(delete_mode, tracked_only_t)
        spans: list[tuple[dt.datetime, dt.datetime]] = []
        previous_table: list[dict[str, Any]] = []
        previous_batch: Batch | None = None
        for run, batch in enumerate(history):
            expected_stats = reference.apply(run, batch)
            stats, table, span = run_batch(project, batch)
            spans.append(span)
            if run == 0:  # the first run creates the table: everything counts as inserted
                expected_stats = {"inserted": len(batch), "updated": 0, "deleted": 0}
            assert stats == expected_stats, (run, batch)

            check_invariants(table, delete_mode)
            actual = sorted(
                (
                    r["k"],
                    run_index(r["valid_from"], spans),
                    run_index(r["valid_to"], spans),
                    r["t"],
                    r["u"],
                    r["is_current"],
                    bool(r.get("_is_deleted", False)),
                )
                for r in table
            )
            assert actual == reference.rows(), (run, batch)

            if batch == previous_batch:  # unchanged input adds nothing, changes nothing
                assert table == previous_table
                assert stats == {"inserted": 0, "updated": 0, "deleted": 0}
            if previous_batch is not None:
                check_transitions(
                    previous_table, table, previous_batch, batch, delete_mode, tracked_only_t
                )
            previous_table, previous_batch = table, batch


def check_transitions(
    before: list[dict[str, Any]],
    after: list[dict[str, Any]],
    old: Batch,
    new: Batch,
    delete_mode: str,
    tracked_only_t: bool,
) -> None:
    """Per-key effects of one run, stated directly (the reference model states them too)."""

    def versions(table: list[dict[str, Any]], key: int) -> list[dict[str, Any]]:
        return [r for r in table if r["k"] == key]

    for key in set(old) | set(new):
        was, now_ = versions(before, key), versions(after, key)
        current_before = [v for v in was if v["is_current"]]
        live_before = [v for v in current_before if not v.get("_is_deleted", False)]
        if key in old and key in new:
            (t0, u0), (t1, u1) = old[key], new[key]
            changed = t0 != t1 or (not tracked_only_t and u0 != u1)
            if not live_before:
                continue  # not current after an earlier delete (soft): covered below
            if changed:
                # exactly one version closed and one opened, at the same instant
                assert len(now_) == len(was) + 1
                closed = [v for v in now_ if v["valid_from"] == live_before[0]["valid_from"]]
                opened = [v for v in now_ if v["is_current"]]
                assert len(closed) == 1 and len(opened) == 1
                assert closed[0]["valid_to"] == opened[0]["valid_from"]
                assert (opened[0]["t"], opened[0]["u"]) == (t1, u1)
            else:
                assert now_ == was  # untracked changes (u with tracked_columns=[t]) add nothing
        elif key in new and key not in old and was and delete_mode in ("soft", "soft_mark"):
            # gone last run, back now: a new current version with the new values
            assert len(now_) == len(was) + 1
            opened = [v for v in now_ if v["is_current"]]
            assert len(opened) == 1 and (opened[0]["t"], opened[0]["u"]) == new[key]
            assert not opened[0].get("_is_deleted", False)


# ---------------------------------------------------------------------------- examples


def dim_project(
    make_project: MakeProject, delete_mode: str = "ignore", extra: str = ""
) -> ProjectDir:
    return make_project({"models/dim.py": SCD2_MODEL.format(delete_mode=delete_mode, extra=extra)})


def test_scd_type_2_without_primary_key_and_bad_delete_mode_are_load_errors(
    make_project: MakeProject,
) -> None:
    from interlace.errors import ModelDefinitionError

    project = make_project(
        {
            "models/dim.sql": """
                -- @strategy: scd_type_2
                SELECT 1 AS k, 'a' AS t
            """
        }
    )
    with pytest.raises(ModelDefinitionError, match="needs primary_key") as info:
        project.load()
    assert info.value.model == "dim"
    assert (info.value.file or "").endswith("models/dim.sql")

    project = dim_project(make_project, delete_mode="hard")
    with pytest.raises(ModelDefinitionError, match="'hard' is not valid") as info:
        project.load()
    assert info.value.hint is not None and "ignore, soft, soft_mark" in info.value.hint
