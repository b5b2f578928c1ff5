"""``interlace plan``: what a run would do, and what a change breaks (SPEC §13.2).

For each selected model the plan says whether it **will run**, **may run** (it runs only when an
upstream that runs first writes new data) or **will be skipped**, and why, using the very
decision the executor makes (:func:`interlace.change_detection.decide`) on the same state. It
also predicts each model's schema change from its column lineage (the columns its query now
produces against the columns its table had when it last ran), and lists **breaking changes**:
a removed or renamed column, a narrowing type change or a primary key change, each with the
downstream models and columns that read it. Planning never runs user code and changes no
table; it records only the lineage it traced.

Example::

    result = interlace.plan_project(".", select=["orders+"])
    for item in result.models:
        print(item.model, item.action, item.reason)
    if result.breaking:
        raise SystemExit(1)
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from interlace.change_detection import Decision, decide
from interlace.plan_changes import (
    Affected,
    BreakingChange,
    ColumnChange,
    breaking_changes,
    predict_changes,
    schema_refusal,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from interlace.lineage import ModelLineage
    from interlace.materialize.catalog import RunCatalog
    from interlace.project import Project
    from interlace.spec import ModelSpec
    from interlace.state.base import StateStore
    from interlace.state.lineage import ModelVersion

__all__ = ["Affected", "BreakingChange", "ColumnChange", "Plan", "PlannedModel", "plan_project"]
Action = Literal["run", "may_run", "skip"]


@dataclass(frozen=True)
class PlannedModel:
    """What the run would do with one model, and why.

    ``reason_kind`` is one of ``new``, ``code_changed``, ``upstream_changed``,
    ``upstream_data_changed``, ``window_due``, ``cached``, ``unchanged``, ``table_missing``,
    ``outside_data``, ``cache_expired``, ``forced``, ``in_run``, ``source``.
    """

    model: str
    action: Action
    reason_kind: str
    reason: str
    schema_changes: tuple[ColumnChange, ...] = ()
    schema_known: bool = True  # False: the new columns cannot be predicted (lineage unknown)
    breaking: tuple[BreakingChange, ...] = ()
    # what the model's schema_mode will refuse when it runs (the run fails, the table stays)
    schema_error: str | None = None


@dataclass(frozen=True)
class Plan:
    """The plan of one selection in one environment."""

    env: str
    models: tuple[PlannedModel, ...]
    selection: tuple[str, ...] = ()
    duration: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def breaking(self) -> list[BreakingChange]:
        return [b for m in self.models for b in m.breaking]

    def names(self, action: Action) -> list[str]:
        return [m.model for m in self.models if m.action == action]

    def model(self, name: str) -> PlannedModel:
        return next(m for m in self.models if m.model == name)

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data (``interlace plan --format json``, the API)."""
        return {
            "env": self.env,
            "selection": list(self.selection),
            "summary": {
                "run": len(self.names("run")),
                "may_run": len(self.names("may_run")),
                "skip": len(self.names("skip")),
                "breaking": len(self.breaking),
            },
            "models": [
                {
                    "model": m.model,
                    "action": m.action,
                    "reason_kind": m.reason_kind,
                    "reason": m.reason,
                    "schema_known": m.schema_known,
                    "schema_changes": [asdict(c) for c in m.schema_changes],
                    "schema_error": m.schema_error,
                    "breaking": [
                        {
                            "kind": b.kind,
                            "column": b.column,
                            "detail": b.detail,
                            "affected": [asdict(a) for a in b.affected],
                        }
                        for b in m.breaking
                    ],
                }
                for m in self.models
            ],
            "notes": list(self.notes),
        }


_REASONS = (
    ("first run", "new"),
    ("forced", "forced"),
    ("table is missing", "table_missing"),
    ("reads outside data", "outside_data"),
    ("cache expired", "cache_expired"),
    ("cached", "cached"),
    ("new data in", "upstream_data_changed"),
    ("seed file unchanged", "unchanged"),
    ("unchanged", "unchanged"),
    ("kept for this run only", "in_run"),
)


def _kind_of(decision: Decision, spec_kind: str) -> str:
    if decision.reason == "definition changed":
        return "code_changed"
    if decision.reason.startswith(f"{spec_kind}: a source"):
        return "source"
    return next((k for prefix, k in _REASONS if decision.reason.startswith(prefix)), "unchanged")


def plan_project(
    project: str | Path | Project = ".",
    select: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    *,
    env: str | None = None,
    force: bool = False,
    full_refresh: bool = False,
    since: str | None = None,
    until: str | None = None,
    state_env: str | None = None,
) -> Plan:
    """Plan a run of ``select`` (the same selection syntax as ``run``) without running it.

    ``state_env`` resolves ``state:modified`` / ``state:new`` selectors against what that
    environment last ran.
    """
    from interlace.api import _with_in_run_ancestors
    from interlace.fallback import plan_fallbacks
    from interlace.materialize.catalog import RunCatalog
    from interlace.opening import has_state, open_engines, open_state
    from interlace.project import Project, load_project
    from interlace.project_lineage import fingerprints_of
    from interlace.state_selection import select_with_state
    from interlace.window import check_window

    started = time.perf_counter()
    if not isinstance(project, Project):
        project = load_project(project, env=env)
    selection = tuple(select or ())
    chosen = select_with_state(project, list(selection), list(exclude or ()), state_env=state_env)
    names = _with_in_run_ancestors(project, chosen) if chosen else []
    bounds = check_window(since, until)
    store = open_state(project) if has_state(project) else None
    connections = {project.models[n].connection for n in names}
    from interlace.api import _read_connections

    engines = open_engines(project, connections | _read_connections(project, names))
    catalog = RunCatalog(
        project=project,
        run_id="plan",
        engines=engines,
        window=bounds,
        full_refresh=full_refresh,
        store=store,
    )
    try:
        catalog.snapshot()
        catalog.fingerprints = dict(fingerprints_of(project)[0])
        versions: dict[str, ModelVersion] = {}
        if store is not None:
            catalog.states = store.model_states(project.env)
            catalog.data_versions = {n: s.data_version for n, s in catalog.states.items()}
            catalog.read_source_versions(store, names)
            versions = store.model_versions(project.env)  # type: ignore[attr-defined]
        plan_fallbacks(catalog, names)
        decided = _decide_all(catalog, names, versions, force=force or full_refresh)
        items = _with_schemas(
            project,
            store,
            names,
            decided,
            versions,
            full_refresh=full_refresh,
            null_only=functools.partial(_null_only, catalog),
        )
    finally:
        catalog.fallbacks.release()
        for engine in engines.values():
            try:
                engine.close()
            except Exception:
                pass
        if store is not None:
            store.close()
    return Plan(
        env=project.env,
        models=tuple(items),
        selection=selection,
        duration=time.perf_counter() - started,
    )


def _decide_all(
    catalog: RunCatalog,
    names: list[str],
    versions: Mapping[str, ModelVersion],
    *,
    force: bool,
) -> dict[str, tuple[Action, str, str]]:
    """The executor's decision for each model on the state before the run, then what the
    models that run first can change: a skipped reader of a table that may get new data may
    run."""
    from interlace.project_lineage import definitions

    project = catalog.project
    defs = definitions(project) if versions else {}
    out: dict[str, tuple[Action, str, str]] = {}
    now = time.time()
    for name in names:
        spec = project.models[name]
        if catalog.is_in_run(spec):
            out[name] = ("run", "in_run", "kept for this run only")
            continue
        windowed = catalog.window.active and spec.options.cursor is not None
        decision = decide(
            spec,
            state=catalog.states.get(name),
            fingerprint=catalog.fingerprints[name],
            upstream_versions=catalog.upstream_versions(name),
            relation_exists=catalog.relation_exists(spec),
            force=force or windowed,
            now=now,
        )
        kind = _kind_of(decision, spec.kind)
        reason = decision.reason
        if windowed and not force:
            kind, reason = "window_due", "the --since/--until window reprocesses it"
        if kind == "code_changed":
            version = versions.get(name)
            if version is not None and defs.get(name) == version.definition:
                changed = [
                    p
                    for p in project.graph.ancestors(name)
                    if (p in versions and defs.get(p) != versions[p].definition)
                    or p not in catalog.states
                ]
                kind = "upstream_changed"
                shown = ", ".join(project.graph.sort(changed)[:3]) or "an upstream"
                reason = f"upstream definition changed ({shown})"
            else:
                reason = "code changed"
        if decision.run:
            out[name] = ("run", kind, reason)
            continue
        sources = catalog.sources(name)
        if sources is not None:
            moving = sorted(s for s in sources if s in out and out[s][0] != "skip")
            if moving:
                out[name] = (
                    "may_run",
                    "upstream_data_changed",
                    f"runs if {', '.join(moving)} writes new data ({reason})",
                )
                continue
        out[name] = ("skip", kind, reason)
    return out


def _null_only(catalog: RunCatalog, spec: ModelSpec, columns: list[str]) -> frozenset[str]:
    """Which ``columns`` of the model's table hold only NULLs (a type change of those is one a
    run allows); none when the table is not there or cannot be read."""
    from interlace import statements as st
    from interlace.materialize.catalog import null_only_columns

    if catalog.relations.get((spec.connection, spec.schema, spec.name)) != "table":
        return frozenset()
    session = catalog.engines[spec.connection].session()
    try:
        return null_only_columns(session, st.table(spec.schema, spec.name), columns)
    except Exception:  # a prediction: the run will say what the database does
        return frozenset()
    finally:
        session.close()


def _with_schemas(
    project: Project,
    store: StateStore | None,
    names: list[str],
    decided: Mapping[str, tuple[Action, str, str]],
    versions: Mapping[str, ModelVersion],
    *,
    full_refresh: bool = False,
    null_only: Callable[[ModelSpec, list[str]], frozenset[str]] | None = None,
) -> list[PlannedModel]:
    from interlace.project_lineage import closure, project_lineage

    recorded: dict[str, dict[str, str | None]] = {}
    if store is not None:
        recorded = dict(store.latest_columns(project.env))  # type: ignore[attr-defined]
    downstream = closure(project, names, up=False)
    lineage = project_lineage(project, store, names=downstream, schemas=recorded)
    changes = {n: predict_changes(recorded.get(n), lineage.get(n)) for n in names}
    # readers as they read the tables now: traced against the columns the tables have, only
    # below models whose columns go away or change type (an unchanged project traces nothing)
    changed = [n for n, (found, _) in changes.items() if any(c.kind != "added" for c in found)]
    changed += [
        n
        for n in names
        if n in versions and tuple(versions[n].primary_key) != project.models[n].options.primary_key
    ]
    before: dict[str, ModelLineage] = {}
    if changed:
        below = closure(project, changed, up=False)
        before = project_lineage(
            project, store, names=below, schemas=recorded, prefer_recorded=True
        )
    items = []
    for name in names:
        action, kind, reason = decided[name]
        spec = project.models[name]
        found, known = changes[name]
        breaking = breaking_changes(
            project, name, found, lineage, before, versions.get(name), spec.options.primary_key
        )
        items.append(
            PlannedModel(
                model=name,
                action=action,
                reason_kind=kind,
                reason=reason,
                schema_changes=tuple(found),
                schema_known=known,
                breaking=tuple(breaking),
                schema_error=(
                    schema_refusal(
                        spec,
                        recorded[name],
                        lineage[name],
                        functools.partial(null_only, spec) if null_only else None,
                    )
                    if found and not full_refresh and action != "skip"
                    else None
                ),
            )
        )
    return items
