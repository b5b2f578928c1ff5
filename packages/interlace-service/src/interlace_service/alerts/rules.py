"""What an event means for the alert rules: which incidents it opens and which it resolves.

Pure functions over an event as the state store keeps it (a mapping with ``type`` and the
event's fields), so the same rules apply to a run's bus in a terminal and to the event log a
server reads. Incidents are keyed by (rule, event, subject):

==================  =====================================  ===================================
event               opens                                  resolves
==================  =====================================  ===================================
task.failed         run_failed of the model                -
task.completed      -                                      run_failed and sla_breach of it
run.completed       run_failed ``(run)`` when a run failed  run_failed ``(run)`` on success
                    without a failed model
check.completed     check_failed ``model:check`` (error     check_failed ``model:check`` when
                    severity, failed or error)              it passes
schedule.missed     schedule_missed of the schedule        -
schedule.fired      schedule_late when later than           schedule_late and schedule_missed
                    ``late_after``                          when on time (not a manual trigger)
==================  =====================================  ===================================

Example::

    rules = compile_rules(config, project)
    for change in changes({"type": "task.failed", "model": "orders", ...}, rules): ...
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interlace.project import Project

    from interlace_service.alerts.config import AlertEvent, AlertsConfig

RUN = "(run)"  # the subject of a run that failed without a failed model


@dataclass(frozen=True)
class CompiledRule:
    """A rule with its model selectors resolved against the project (``None``: every model)."""

    name: str
    events: frozenset[str]
    channels: tuple[str, ...]
    models: frozenset[str] | None = None
    late_after: float = 300.0
    resolve: bool = True

    def covers(self, event: AlertEvent, model: str | None = None) -> bool:
        if event not in self.events:
            return False
        if self.models is None or model is None:
            return self.models is None or event in ("schedule_missed", "schedule_late")
        return model in self.models


@dataclass(frozen=True)
class Open:
    """Open the incident (rule, event, subject), or count one more occurrence of it."""

    rule: CompiledRule
    event: AlertEvent
    subject: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None


@dataclass(frozen=True)
class Resolve:
    """Resolve the incident (rule, event, subject) if it is open."""

    rule: CompiledRule
    event: AlertEvent
    subject: str
    resolution: str
    opened_before: float | None = None  # only an incident opened before this time


Change = Open | Resolve


def compile_rules(config: AlertsConfig, project: Project) -> list[CompiledRule]:
    """The config's rules; a selector naming no model is an error naming it."""
    compiled = []
    for rule in config.rules:
        models = frozenset(project.select(list(rule.models), [])) if rule.models else None
        compiled.append(
            CompiledRule(
                name=rule.key,
                events=frozenset(rule.events),
                channels=tuple(rule.channels),
                models=models,
                late_after=rule.late_after,
                resolve=rule.resolve,
            )
        )
    return compiled


def changes(event: Mapping[str, Any], rules: Sequence[CompiledRule]) -> list[Change]:
    """The incidents ``event`` opens or resolves under ``rules`` (see the module docstring)."""
    kind = str(event.get("type", ""))
    run_id = event.get("run_id")
    run_id = str(run_id) if run_id is not None else None
    found: list[Change] = []
    if kind == "task.failed":
        model = str(event.get("model"))
        error = _line(str(event.get("error") or "failed"))
        details = _pick(event, "error", "error_type", "location", "attempts", "run_id")
        for rule in rules:
            if rule.covers("run_failed", model):
                summary = f"model {model} failed: {error}"
                found.append(Open(rule, "run_failed", model, summary, details, run_id))
    elif kind == "task.completed":
        model = str(event.get("model"))
        for rule in rules:
            if rule.covers("run_failed", model):
                found.append(
                    Resolve(rule, "run_failed", model, f"model {model} built successfully again")
                )
            if rule.covers("sla_breach", model):
                found.append(Resolve(rule, "sla_breach", model, f"model {model} was refreshed"))
    elif kind == "run.completed":
        status = event.get("status")
        for rule in rules:
            if not rule.covers("run_failed"):
                continue
            if status == "failed" and not event.get("failed"):
                error = _line(str(event.get("error") or "the run failed"))
                details = _pick(event, "error", "run_id")
                found.append(Open(rule, "run_failed", RUN, f"run failed: {error}", details, run_id))
            elif status == "success":
                found.append(Resolve(rule, "run_failed", RUN, "a run succeeded again"))
    elif kind == "check.completed" and event.get("severity") == "error":
        model = str(event.get("model"))
        subject = f"{model}:{event.get('name')}"
        status = event.get("status")
        for rule in rules:
            if not rule.covers("check_failed", model):
                continue
            if status in ("failed", "error"):
                what = (
                    f"{event.get('failing_rows')} failing row(s)"
                    if status == "failed"
                    else _line(str(event.get("message") or "the check could not run"))
                )
                summary = f"check {event.get('name')} on {model} {status}: {what}"
                details = _pick(
                    event, "name", "check_type", "status", "failing_rows", "message", "run_id"
                )
                found.append(Open(rule, "check_failed", subject, summary, details, run_id))
            elif status == "passed":
                found.append(
                    Resolve(
                        rule, "check_failed", subject, f"check {event.get('name')} passes again"
                    )
                )
    elif kind in ("schedule.missed", "schedule.fired"):
        found.extend(_schedule_changes(kind, event, rules))
    return found


def _schedule_changes(
    kind: str, event: Mapping[str, Any], rules: Sequence[CompiledRule]
) -> list[Change]:
    """A missed slot (after downtime, by the catch-up policy) opens ``schedule_missed``; a fire
    later than ``late_after`` opens ``schedule_late``; the next fire on time resolves both (the
    fire of the same moment as the missed slots, often late itself, does not). A manual
    trigger says nothing about the schedule's timing."""
    name = str(event.get("schedule") or event.get("name") or "?")
    at = event.get("at")
    found: list[Change] = []
    if kind == "schedule.missed":
        slots = [str(s) for s in event.get("slots") or ()]
        count = int(event.get("count") or len(slots) or 1)
        last = f", the last at {slots[-1]}" if slots else ""
        summary = f"schedule {name} missed {count} slot(s){last}"
        details = {"schedule": name, "missed": count, "slots": slots[-10:]}
        for rule in rules:
            if rule.covers("schedule_missed"):
                found.append(Open(rule, "schedule_missed", name, summary, details))
        return found
    if event.get("manual") or event.get("slot") is None:
        return found
    lateness = _lateness(event)
    late_details = _pick(event, "schedule", "slot", "lateness", "run_id")
    for rule in rules:
        late = lateness is not None and lateness > rule.late_after
        if rule.covers("schedule_late"):
            if late:
                assert lateness is not None
                summary = (
                    f"schedule {name} fired {lateness:.0f} s after its slot {event.get('slot')} "
                    f"(late after {rule.late_after:g} s)"
                )
                found.append(Open(rule, "schedule_late", name, summary, late_details))
            else:
                found.append(
                    Resolve(rule, "schedule_late", name, f"schedule {name} fired on time again")
                )
        if rule.covers("schedule_missed") and not late:
            when = float(at) if isinstance(at, (int, float)) else None
            found.append(
                Resolve(rule, "schedule_missed", name, f"schedule {name} fired on time", when)
            )
    return found


def sla_changes(
    project: Project,
    last_success: Mapping[str, float | None],
    now: float,
    rules: Sequence[CompiledRule],
) -> list[Change]:
    """Breaches and recoveries of the models' ``sla`` at ``now``, given when each model was
    last built successfully. A model never built is not judged (its failures are run_failed)."""
    from interlace.durations import parse_duration

    found: list[Change] = []
    for name, spec in sorted(project.models.items()):
        sla = getattr(spec.options, "sla", None)
        if not sla:
            continue
        built = last_success.get(name)
        if built is None:
            continue
        limit = parse_duration(sla).total_seconds()
        age = now - built
        for rule in rules:
            if not rule.covers("sla_breach", name):
                continue
            if age > limit:
                summary = (
                    f"model {name} was last refreshed {_age(age)} ago, longer than its sla {sla}"
                )
                details = {"sla": sla, "last_success_at": _when(built), "age_seconds": age}
                found.append(Open(rule, "sla_breach", name, summary, details))
            else:
                found.append(
                    Resolve(rule, "sla_breach", name, f"model {name} is within its sla {sla} again")
                )
    return found


def _line(text: str) -> str:
    """The first line of a message (errors may carry tracebacks or SQL)."""
    lines = text.strip().splitlines()
    return lines[0] if lines else text


def _pick(event: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: event[k] for k in keys if event.get(k) is not None}


def _lateness(event: Mapping[str, Any]) -> float | None:
    value = event.get("lateness")
    if isinstance(value, (int, float)):
        return float(value)
    slot, at = event.get("slot"), event.get("at")
    if isinstance(slot, (int, float)) and isinstance(at, (int, float)):
        return float(at) - float(slot)
    if isinstance(slot, str) and isinstance(at, (int, float)):
        try:
            return float(at) - dt.datetime.fromisoformat(slot).timestamp()
        except ValueError:
            return None
    return None


def _when(value: Any) -> str | None:
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(float(value), dt.UTC).isoformat(timespec="seconds")
    return str(value) if value else None


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"
