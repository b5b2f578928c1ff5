"""`scd_type_2`: every version of a row with validity intervals (SPEC §3.2, §3.3).

The property tests feed random sequences of batches (keys appearing, changing, disappearing and
coming back) to a real project, one run per batch, and check the published history against the
invariants of SCD2 and against a small reference model of what each run must write.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import interlace
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def write_project(root: Path, delete_mode: str, tracked_only_t: bool) -> None:
    extra = ', scd2={"tracked_columns": ["t"]}' if tracked_only_t else ""
    (root / "models").mkdir(parents=True)
    (root / "config.yaml").write_text(CONFIG)
    (root / "models" / "dim.py").write_text(SCD2_MODEL.format(delete_mode=delete_mode, extra=extra))


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def run_batch(
    root: Path, batch: Batch
) -> tuple[dict[str, int], list[dict[str, Any]], tuple[dt.datetime, dt.datetime]]:
    rows = [{"k": k, "t": t, "u": u} for k, (t, u) in sorted(batch.items())]
    (root / "input.json").write_text(json.dumps(rows))
    before = now()
    result = interlace.run_sync(root)
    after = now()
    dim = result.models["dim"]
    assert result.status == "success", (dim.error, dim.location)
    with duckdb.connect(str(root / "data" / "dev.duckdb"), read_only=True) as con:
        cursor = con.execute("SELECT * FROM dim ORDER BY k, valid_from")
        names = [d[0] for d in cursor.description]
        table = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
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
        root = Path(folder)
        write_project(root, delete_mode, tracked_only_t)
        reference = Reference(delete_mode, tracked_only_t)
        spans: list[tuple[dt.datetime, dt.datetime]] = []
        previous_table: list[dict[str, Any]] = []
        previous_batch: Batch | None = None
        for run, batch in enumerate(history):
            expected_stats = reference.apply(run, batch)
            stats, table, span = run_batch(root, batch)
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


def feed(project: ProjectDir, rows: list[dict[str, Any]]) -> dict[str, int]:
    project.write({"input.json": json.dumps(rows)})
    result = project.run_ok()
    stats = result.models["dim"].stats
    return {k: stats.get(k, 0) for k in ("inserted", "updated", "deleted")}


def test_scd_type_2_change_closes_the_old_version_at_the_instant_the_new_one_opens(
    make_project: MakeProject,
) -> None:
    project = dim_project(make_project)
    feed(project, [{"k": 1, "t": "a", "u": 0}, {"k": 2, "t": "x", "u": 0}])
    assert feed(project, [{"k": 1, "t": "b", "u": 0}, {"k": 2, "t": "x", "u": 0}]) == {
        "inserted": 0,
        "updated": 1,
        "deleted": 0,
    }
    rows = project.rows("dim", "k, valid_from")
    first, second, other = rows
    assert (first["k"], first["t"], first["is_current"]) == (1, "a", False)
    assert (second["k"], second["t"], second["is_current"], second["valid_to"]) == (
        1,
        "b",
        True,
        None,
    )
    assert first["valid_to"] == second["valid_from"] > first["valid_from"]
    assert (other["k"], other["t"], other["is_current"]) == (2, "x", True)
    assert first["_scd_hash"] != second["_scd_hash"]
    assert set(rows[0]) == {"k", "t", "u", "valid_from", "valid_to", "is_current", "_scd_hash"}


@pytest.mark.parametrize("full_join", [True, False], ids=["full_join", "separate_update"])
def test_scd_type_2_soft_counts_new_changed_and_gone_keys_of_one_batch(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, full_join: bool
) -> None:
    # one full join finds new, changed and gone keys; engines without one close gone keys apart
    from interlace.engines.duckdb import DuckDBEngine

    capabilities = dataclasses.replace(DuckDBEngine.capabilities, full_join=full_join)
    monkeypatch.setattr(DuckDBEngine, "capabilities", capabilities)
    project = dim_project(make_project, delete_mode="soft")
    feed(
        project,
        [{"k": 1, "t": "a", "u": 0}, {"k": 2, "t": "b", "u": 0}, {"k": 3, "t": "c", "u": 0}],
    )
    batch = [{"k": 1, "t": "A", "u": 0}, {"k": 2, "t": "b", "u": 0}, {"k": 4, "t": "d", "u": 0}]
    assert feed(project, batch) == {"inserted": 1, "updated": 1, "deleted": 1}
    rows = project.rows("dim", "k, valid_from")
    assert [(r["k"], r["t"]) for r in rows if r["is_current"]] == [(1, "A"), (2, "b"), (4, "d")]
    assert [(r["k"], r["t"]) for r in rows if not r["is_current"]] == [(1, "a"), (3, "c")]
    closed = {r["k"]: r["valid_to"] for r in rows if not r["is_current"]}
    assert closed[1] == closed[3] == next(r["valid_from"] for r in rows if r["k"] == 4)


def test_scd_type_2_soft_empty_batch_closes_every_current_version(
    make_project: MakeProject,
) -> None:
    # a result without rows or columns is staged from the table itself
    project = make_project(
        {
            "models/dim.py": """
import json
from pathlib import Path

from interlace import model

@model(strategy="scd_type_2", primary_key="k", delete_mode="soft")
def dim():
    return json.loads((Path(__file__).parent.parent / "input.json").read_text())
"""
        }
    )
    feed(project, [{"k": 1, "t": "a"}, {"k": 2, "t": "b"}])
    assert feed(project, []) == {"inserted": 0, "updated": 0, "deleted": 2}
    assert [r["is_current"] for r in project.rows("dim", "k")] == [False, False]
    # a key that comes back opens a new version
    assert feed(project, [{"k": 1, "t": "a"}]) == {"inserted": 1, "updated": 0, "deleted": 0}
    rows = project.rows("dim", "k, valid_from")
    assert [(r["k"], r["is_current"]) for r in rows] == [(1, False), (1, True), (2, False)]
    assert rows[0]["_scd_hash"] == rows[1]["_scd_hash"]


def test_scd_type_2_custom_column_names_and_null_versus_empty_string(
    make_project: MakeProject,
) -> None:
    project = dim_project(
        make_project,
        extra=', scd2={"valid_from": "start_at", "valid_to": "end_at", '
        '"is_current": "live", "hash_column": "row_hash"}',
    )
    feed(project, [{"k": 1, "t": None, "u": 0}])
    # NULL -> '' is a change (the hash tells them apart); '' -> '' is not
    assert feed(project, [{"k": 1, "t": "", "u": 0}])["updated"] == 1
    assert feed(project, [{"k": 1, "t": "", "u": 0}])["updated"] == 0
    rows = project.rows("dim", "start_at")
    assert [(r["t"], r["live"]) for r in rows] == [(None, False), ("", True)]
    assert rows[0]["end_at"] == rows[1]["start_at"]
    assert set(rows[0]) == {"k", "t", "u", "start_at", "end_at", "live", "row_hash"}


def test_scd_type_2_tracked_column_missing_from_result_fails_and_keeps_table(
    make_project: MakeProject,
) -> None:
    project = dim_project(make_project, extra=', scd2={"tracked_columns": ["t", "missing"]}')
    project.write({"input.json": json.dumps([{"k": 1, "t": "a", "u": 0}])})
    result = project.run()
    error = result.models["dim"].error or ""
    assert result.models["dim"].status == "failed"
    assert "tracked_columns" in error and "'missing'" in error
    assert "dim" not in [name.split(".")[-1] for name in project.relations()]


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


def test_scd_type_2_schema_changes_version_only_rows_whose_values_changed(
    make_project: MakeProject,
) -> None:
    header = "-- @strategy: scd_type_2\n-- @primary_key: k\n"
    project = make_project(
        {"models/dim.sql": header + "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) t(k, v)"}
    )

    def run(query: str) -> dict[str, int]:
        project.write({"models/dim.sql": header + query})
        stats = project.run_ok().models["dim"].stats
        return {k: stats.get(k, 0) for k in ("inserted", "updated", "deleted")}

    run("SELECT * FROM (VALUES (1, 'a'), (2, 'b')) t(k, v)")
    # a new column that is NULL everywhere changes no row
    assert run("SELECT *, NULL::VARCHAR AS x FROM (VALUES (1, 'a'), (2, 'b')) t(k, v)") == {
        "inserted": 0,
        "updated": 0,
        "deleted": 0,
    }
    # the same values in another column order change nothing either
    assert (
        run("SELECT k, NULL::VARCHAR AS x, v FROM (VALUES (1, 'a'), (2, 'b')) t(k, v)")["updated"]
        == 0
    )
    # a value in the new column is a change of that row only
    assert (
        run(
            "SELECT k, v, CASE k WHEN 2 THEN 'new' END AS x FROM (VALUES (1, 'a'), (2, 'b')) t(k, v)"
        )["updated"]
        == 1
    )
    # a value moving from one column to another is a change, though the values are the same
    assert run("SELECT k, NULL::VARCHAR AS v, 'a' AS x FROM (VALUES (1)) t(k)")["updated"] == 1
    assert project.sql("SELECT k, v, x, is_current FROM dim ORDER BY k, valid_from") == [
        (1, "a", None, False),
        (1, None, "a", True),
        (2, "b", None, False),
        (2, "b", "new", True),
    ]
