"""Retries, circuit breakers and the dead-letter queue (SPEC §6.4)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from interlace.events import ModelFailed, ModelRetrying
from interlace.retry import CircuitBreaker, CircuitOpenError, RetryPolicy
from interlace.state import SQLiteStateStore
from interlace.state.base import DeadLetter

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir

INTERLACE = Path(sys.executable).parent / "interlace"

# Fails while the number in `failures_left` is above zero, counting down on every attempt.
FLAKY = """
from pathlib import Path

from interlace import model
from interlace.retry import RetryPolicy

ROOT = Path(__file__).parent.parent

@model({options})
def flaky():
    counter = ROOT / "failures_left"
    left = int(counter.read_text()) if counter.exists() else 0
    with (ROOT / "attempts.log").open("a") as log:
        log.write("x")
    if left > 0:
        counter.write_text(str(left - 1))
        raise ConnectionError(f"upstream API unavailable ({{left}} failures left)")
    return [{{"id": 1, "status": "ok"}}]
"""

POLICY = "retry_policy=RetryPolicy(max_attempts=3, initial_delay=0, jitter=0)"


def flaky_project(make_project: MakeProject, failures: int, options: str = POLICY) -> ProjectDir:
    project = make_project(
        {
            "models/flaky.py": FLAKY.format(options=options),
            "models/downstream.sql": "SELECT id, status FROM flaky",
        }
    )
    project.write({"failures_left": str(failures)})
    return project


def attempts_made(project: ProjectDir) -> int:
    log = project.root / "attempts.log"
    return len(log.read_text()) if log.exists() else 0


def dead_letters(project: ProjectDir, status: str | None = None) -> list[DeadLetter]:
    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        return store.dead_letters("dev", status)
    finally:
        store.close()


def test_model_failing_twice_then_succeeding_within_three_attempts_succeeds(
    make_project: MakeProject,
) -> None:
    project = flaky_project(make_project, failures=2)
    result, events = project.run_events()
    assert result.status == "success"
    flaky = result.models["flaky"]
    assert (flaky.status, flaky.attempts) == ("success", 3)
    assert attempts_made(project) == 3
    retrying = [e for e in events if isinstance(e, ModelRetrying)]
    assert [(e.model, e.attempt, e.delay) for e in retrying] == [
        ("flaky", 1, 0.0),
        ("flaky", 2, 0.0),
    ]
    assert retrying[0].error == "ConnectionError: upstream API unavailable (2 failures left)"
    assert not [e for e in events if isinstance(e, ModelFailed)]
    assert result.models["downstream"].status == "success"
    assert project.rows("downstream") == [{"id": 1, "status": "ok"}]
    assert dead_letters(project) == []

    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        record = store.model_runs(result.run_id, "flaky")[0]
    finally:
        store.close()
    assert (record.status, record.attempts) == ("success", 3)


def test_exhausted_retries_land_in_the_dead_letter_queue(make_project: MakeProject) -> None:
    project = flaky_project(make_project, failures=10)
    result, events = project.run_events()
    flaky = result.models["flaky"]
    assert (flaky.status, flaky.attempts) == ("failed", 3)
    assert attempts_made(project) == 3
    assert len([e for e in events if isinstance(e, ModelRetrying)]) == 2
    assert result.models["downstream"].skip_kind == "upstream_failed"

    letters = dead_letters(project)
    assert len(letters) == 1
    letter = letters[0]
    assert (letter.model, letter.run_id, letter.env) == ("flaky", result.run_id, "dev")
    assert (letter.attempts, letter.status, letter.resolved_at) == (3, "open", None)
    assert letter.error == "ConnectionError: upstream API unavailable (8 failures left)"
    assert letter.error_type == "ModelExecutionError"
    assert letter.location == "models/flaky.py:16"
    assert letter.traceback is not None and "raise ConnectionError" in letter.traceback


def test_retry_default_from_config_applies_to_models_without_a_policy(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {"models/flaky.py": FLAKY.format(options="")},
        config="""\
        connections:
          default: {type: duckdb, path: "data/{env}.duckdb"}
        retry:
          max_attempts: 2
          initial_delay: 0
          jitter: 0
        """,
    )
    project.write({"failures_left": "1"})
    result = project.run_ok()
    assert result.models["flaky"].attempts == 2


def test_without_a_retry_policy_a_failure_is_final(make_project: MakeProject) -> None:
    project = flaky_project(make_project, failures=1, options="")
    result = project.run()
    assert (result.models["flaky"].status, result.models["flaky"].attempts) == ("failed", 1)
    assert [letter.attempts for letter in dead_letters(project)] == [1]


@pytest.mark.parametrize(
    "options",
    [
        "retry_policy=RetryPolicy(max_attempts=3, initial_delay=0, retryable_exceptions=(TimeoutError,))",
        "retry_policy=RetryPolicy(max_attempts=3, initial_delay=0, "
        "retry_condition=lambda e: 'rate limit' in str(e))",
    ],
)
def test_errors_the_policy_does_not_cover_are_not_retried(
    make_project: MakeProject, options: str
) -> None:
    project = flaky_project(make_project, failures=5, options=options)
    result = project.run()
    assert (result.models["flaky"].status, result.models["flaky"].attempts) == ("failed", 1)
    assert attempts_made(project) == 1


def test_schema_errors_are_never_retried(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/m.sql": """
                -- @schema_mode: strict
                -- @retry_policy: {max_attempts: 4, initial_delay: 0}
                SELECT 1 AS id
            """
        }
    )
    project.run_ok()
    project.write(
        {
            "models/m.sql": """
                -- @schema_mode: strict
                -- @retry_policy: {max_attempts: 4, initial_delay: 0}
                SELECT 1 AS id, 2 AS extra
            """
        }
    )
    result, events = project.run_events()
    assert result.models["m"].attempts == 1
    assert not [e for e in events if isinstance(e, ModelRetrying)]
    assert dead_letters(project)[0].error_type == "SchemaChangeError"


def test_retry_policy_rejects_nonsense_values() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=2)
    with pytest.raises(ValueError, match="unknown retry_policy key"):
        RetryPolicy.from_value({"attempts": 3})


def test_retry_delays_grow_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(initial_delay=1, exponential_base=2, max_delay=5, jitter=0)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
    jittery = RetryPolicy(initial_delay=10, jitter=0.5)
    assert all(5 <= jittery.delay(1) <= 15 for _ in range(50))


# ---------------------------------------------------------------------------- circuit breaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_circuit_breaker_closed_open_half_open_closed() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(
        "warehouse", failure_threshold=3, timeout=30, success_threshold=2, clock=clock
    )
    breaker.before_call()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_success()  # a success resets the count of consecutive failures
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open"

    clock.now += 29
    with pytest.raises(
        CircuitOpenError, match="circuit breaker of connection 'warehouse' is open"
    ) as info:
        breaker.before_call()
    assert info.value.hint is not None and "1s" in info.value.hint

    clock.now += 1
    breaker.before_call()  # timeout passed: one trial call may go through
    assert breaker.state == "half_open"
    breaker.record_success()
    assert breaker.state == "half_open"  # needs two successes
    breaker.before_call()
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.failures == 0


def test_circuit_breaker_failure_while_half_open_reopens_with_a_fresh_timeout() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("db", failure_threshold=1, timeout=10, clock=clock)
    breaker.record_failure()
    assert breaker.state == "open"
    clock.now += 10
    breaker.before_call()
    assert breaker.state == "half_open"
    breaker.record_failure()
    assert breaker.state == "open"
    clock.now += 9
    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    clock.now += 1
    breaker.before_call()
    breaker.record_success()
    assert breaker.state == "closed"


def test_circuit_breaker_of_a_connection_fails_fast_after_repeated_engine_errors(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/a_bad.sql": "SELECT error('warehouse says no') AS x",
            "models/b_bad.sql": "SELECT error('warehouse says no') AS x",
            "models/c_good.sql": "SELECT 1 AS x",
        },
        config="""\
        connections:
          default:
            type: duckdb
            path: "data/{env}.duckdb"
            circuit_breaker: {failure_threshold: 2, timeout: 0.5, success_threshold: 1}
        executor:
          max_workers: 1
        """,
    )
    result = project.run()
    assert result.models["a_bad"].status == "failed"
    assert result.models["b_bad"].status == "failed"
    good = result.models["c_good"]
    assert good.status == "failed"
    assert good.error is not None
    assert (
        "circuit breaker of connection 'default' is open after 2 consecutive failures" in good.error
    )
    assert "main.c_good" not in project.relations()

    time.sleep(0.6)  # the breaker's timeout: the next call is a trial that closes it again
    healed = project.run(["c_good"])
    assert healed.models["c_good"].status == "success"
    assert project.sql("SELECT x FROM c_good") == [(1,)]
