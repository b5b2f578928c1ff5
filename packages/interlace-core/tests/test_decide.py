"""`decide`: whether a model must run, and the reason a person reads (pure; no database).

Each case is one row: the model's cache option, what the state store remembers, what the run
sees now, and the decision expected. The end-to-end behaviour is in test_change_detection.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from interlace.change_detection import Decision, decide
from interlace.spec import CacheOptions, ModelOptions, ModelSpec
from interlace.state.base import ModelState

NOW = 1_700_000_000.0
HOUR = 3600.0


def spec(cache: dict[str, Any] | None = None) -> ModelSpec:
    return ModelSpec(
        name="orders",
        kind="sql",
        schema="main",
        connection="default",
        materialize="table",
        strategy="replace",
        schema_mode="safe",
        options=ModelOptions(cache=CacheOptions(**cache) if cache is not None else None),
    )


def state(
    fingerprint: str = "fp", upstream: dict[str, int] | None = None, built_ago: float | None = 0
) -> ModelState:
    return ModelState(
        model="orders",
        fingerprint=fingerprint,
        data_version=3,
        content_hash=None,
        upstream_versions=upstream or {},
        last_run_id="run-1",
        last_success_at=None if built_ago is None else NOW - built_ago,
    )


@dataclass(frozen=True)
class Case:
    """``upstream``: the versions the model reads now; None for a root model."""

    state: ModelState | None
    expected: Decision
    upstream: dict[str, int] | None = field(default_factory=dict)
    cache: dict[str, Any] | None = None
    fingerprint: str = "fp"
    exists: bool = True
    force: bool = False


def run(reason: str) -> Decision:
    return Decision(True, reason)


def skip(reason: str) -> Decision:
    return Decision(False, reason)


CASES = {
    # ------------------------------------------------------------------ order of the checks
    "forced_even_when_nothing_changed": Case(state(), run("forced"), force=True),
    "forced_before_first_run": Case(None, run("forced"), force=True),
    "first_run": Case(None, run("first run")),
    "first_run_of_a_root_with_a_fresh_cache": Case(
        None, run("first run"), upstream=None, cache={"ttl": "7d"}
    ),
    "definition_changed": Case(state("old"), run("definition changed")),
    "definition_changed_before_missing_table": Case(
        state("old"), run("definition changed"), exists=False
    ),
    "table_missing": Case(state(), run("table is missing"), exists=False),
    "table_missing_beats_a_fresh_cache": Case(
        state(), run("table is missing"), upstream=None, cache={"ttl": "7d"}, exists=False
    ),
    # ------------------------------------------------------------------ models reading models
    "unchanged": Case(state(upstream={"a": 1}), skip("unchanged since the last run"), {"a": 1}),
    "no_upstreams_and_unchanged": Case(state(), skip("unchanged since the last run"), {}),
    "one_upstream_wrote": Case(state(upstream={"a": 1}), run("new data in a"), {"a": 2}),
    "every_changed_upstream_is_named_in_order": Case(
        state(upstream={"a": 1, "b": 1, "c": 1}),
        run("new data in a, c"),
        {"c": 2, "b": 1, "a": 5},
    ),
    "a_new_upstream_counts_as_new_data": Case(
        state(upstream={"a": 1}), run("new data in b"), {"a": 1, "b": 1}
    ),
    "a_dropped_upstream_is_no_new_data": Case(
        state(upstream={"a": 1, "b": 1}), skip("unchanged since the last run"), {"a": 1}
    ),
    "an_older_version_is_a_change_too": Case(
        state(upstream={"a": 5}), run("new data in a"), {"a": 4}
    ),
    "upstream_versions_outrank_the_cache_option": Case(
        state(upstream={"a": 1}),
        skip("unchanged since the last run"),
        {"a": 1},
        cache={"strategy": "always"},
    ),
    # ------------------------------------------------------------------ roots: the cache
    "root_without_cache_always_runs": Case(
        state(), run("reads outside data (no cache)"), upstream=None
    ),
    "root_with_cache_always_runs": Case(
        state(), run("reads outside data (no cache)"), upstream=None, cache={"strategy": "always"}
    ),
    "root_if_exists_is_cached_while_the_table_exists": Case(
        state(built_ago=400 * 24 * HOUR),
        skip("cached: table exists (cache strategy if_exists)"),
        upstream=None,
        cache={"strategy": "if_exists"},
    ),
    "root_within_its_ttl": Case(
        state(built_ago=30 * 60),
        skip("cached: last built 30m ago, ttl 1h"),
        upstream=None,
        cache={"ttl": "1h"},
    ),
    "root_past_its_ttl": Case(
        state(built_ago=2 * HOUR),
        run("cache expired (ttl 1h)"),
        upstream=None,
        cache={"ttl": "1h"},
    ),
    "root_exactly_at_its_ttl_is_expired": Case(
        state(built_ago=HOUR), run("cache expired (ttl 1h)"), upstream=None, cache={"ttl": "1h"}
    ),
    "root_that_never_succeeded_is_expired": Case(
        state(built_ago=None), run("cache expired (ttl 1h)"), upstream=None, cache={"ttl": "1h"}
    ),
    # ------------------------------------------------------------------ how an age reads
    "age_in_seconds": Case(
        state(built_ago=59), skip("cached: last built 59s ago, ttl 30d"), None, {"ttl": "30d"}
    ),
    "age_up_to_two_minutes_in_seconds": Case(
        state(built_ago=119), skip("cached: last built 119s ago, ttl 30d"), None, {"ttl": "30d"}
    ),
    "age_in_minutes": Case(
        state(built_ago=120), skip("cached: last built 2m ago, ttl 30d"), None, {"ttl": "30d"}
    ),
    "age_up_to_two_hours_in_minutes": Case(
        state(built_ago=7199), skip("cached: last built 120m ago, ttl 30d"), None, {"ttl": "30d"}
    ),
    "age_in_hours": Case(
        state(built_ago=2 * HOUR), skip("cached: last built 2h ago, ttl 30d"), None, {"ttl": "30d"}
    ),
    "age_in_days": Case(
        state(built_ago=48 * HOUR),
        skip("cached: last built 2d ago, ttl 30d"),
        None,
        {"ttl": "30d"},
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_decide_runs_a_model_only_when_something_it_depends_on_changed(case: Case) -> None:
    decision = decide(
        spec(case.cache),
        state=case.state,
        fingerprint=case.fingerprint,
        upstream_versions=case.upstream,
        relation_exists=case.exists,
        force=case.force,
        now=NOW,
    )
    assert decision == case.expected


def test_decide_is_pure_and_leaves_its_inputs_alone() -> None:
    remembered = state(upstream={"a": 1})
    upstream = {"a": 2}
    first = decide(
        spec(),
        state=remembered,
        fingerprint="fp",
        upstream_versions=upstream,
        relation_exists=True,
        force=False,
        now=NOW,
    )
    again = decide(
        spec(),
        state=remembered,
        fingerprint="fp",
        upstream_versions=upstream,
        relation_exists=True,
        force=False,
        now=NOW,
    )
    assert first == again == run("new data in a")
    assert upstream == {"a": 2} and remembered.upstream_versions == {"a": 1}
