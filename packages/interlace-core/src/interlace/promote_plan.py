"""Planning a promote: which models' tables are copied, recreated as views or skipped, and the
checks that run before anything is copied (known environments, writable targets, existing
sources). :mod:`interlace.promote` carries the plan out.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from interlace.errors import InterlaceError
from interlace.fallback import same_database, writes_relation

if TYPE_CHECKING:
    from collections.abc import Iterable

    from interlace.project import Project
    from interlace.spec import ModelSpec

Action = Literal["copy", "view", "skip"]


class PromoteError(InterlaceError):
    """A promotion cannot start or failed (nothing of a failed connection was changed)."""


@dataclass(frozen=True)
class PromoteStep:
    """What promote does with one model."""

    model: str
    action: Action
    relation: str  # schema.name in the target environment
    source_connection: str
    target_connection: str
    reason: str | None = None  # why a model is skipped


@dataclass(frozen=True)
class PromotePlan:
    source_env: str
    target_env: str
    steps: tuple[PromoteStep, ...]
    locations: dict[tuple[str, str], str] = field(default_factory=dict)  # (env, conn) -> where

    def of(self, action: Action) -> list[PromoteStep]:
        return [s for s in self.steps if s.action == action]

    def where(self, env: str, connection: str) -> str:
        """``'default' (data/dev.duckdb)``: a connection as people know it."""
        return self.locations.get((env, connection), f"'{connection}'")


def check_known_environments(source: Project, target: Project) -> None:
    """Both environments must be known (a typo in --to must not create a new database)."""
    from interlace.environments import KNOWN_BECAUSE, known_environments

    known = known_environments(target)
    unknown = [env for env in (source.env, target.env) if env not in known]
    if not unknown:
        return
    env = unknown[0]
    close = difflib.get_close_matches(env, known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise PromoteError(
        f"unknown environment '{env}'",
        hint=f"{hint}known environments: {', '.join(known)} ({KNOWN_BECAUSE})",
    )


def select_models(
    project: Project,
    select: Iterable[str] | None,
    exclude: Iterable[str] | None,
    *,
    all_models: bool,
    sources_only: bool,
) -> list[str]:
    selectors = [s for s in (select or ()) if s.strip()]
    if all_models and sources_only:
        raise PromoteError("give either --all or --sources-only, not both")
    if all_models and selectors:
        raise PromoteError(
            "give model names or --all, not both",
            hint="--all promotes every model; name models (or +model, tag:x) to promote some",
        )
    if not (selectors or all_models or sources_only):
        raise PromoteError(
            "name the models to promote, or pass --all or --sources-only",
            hint="e.g. interlace promote --from dev --to prod +revenue",
        )
    names = project.select(selectors, list(exclude or ()))
    if sources_only:
        names = [n for n in names if not project.graph.parents[n]]
    return names


def _skip_reason(spec: ModelSpec) -> str | None:
    if spec.materialize == "ephemeral":
        return "ephemeral: it has no table (inlined into its consumers)"
    if not writes_relation(spec):
        return f"writes no table (materialize '{spec.materialize}', strategy '{spec.strategy}')"
    if spec.database is not None:
        return (
            f"lives in attached database '{spec.database}': promote copies between connections' "
            "own databases; run the model in the target environment instead"
        )
    return None


def location_of(project: Project, connection: str) -> str:
    path = getattr(project.config.connections[connection], "path", None)
    return f"'{connection}' ({path})" if isinstance(path, str) else f"'{connection}'"


def make_plan(source: Project, target: Project, names: list[str]) -> PromotePlan:
    steps: list[PromoteStep] = []
    locations: dict[tuple[str, str], str] = {}
    for name in names:
        spec, spec_from = target.models[name], source.models[name]
        locations[(source.env, spec_from.connection)] = location_of(source, spec_from.connection)
        locations[(target.env, spec.connection)] = location_of(target, spec.connection)
        step = PromoteStep(
            name,
            "copy",
            spec.qualified_name,
            spec_from.connection,
            spec.connection,
        )
        reason = _skip_reason(spec)
        if reason is None and spec.qualified_name == spec_from.qualified_name:
            a = source.config.connections[spec_from.connection]
            b = target.config.connections[spec.connection]
            if same_database(a, b):
                reason = (
                    f"same database in both environments ({location_of(target, spec.connection)})"
                )
        if reason is not None:
            step = PromoteStep(
                name, "skip", step.relation, step.source_connection, step.target_connection, reason
            )
        elif spec.materialize == "view":
            step = PromoteStep(
                name, "view", step.relation, step.source_connection, step.target_connection
            )
        steps.append(step)
    return PromotePlan(source.env, target.env, tuple(steps), locations)


def check_writable_targets(plan: PromotePlan, target: Project) -> None:
    for step in plan.steps:
        if step.action == "skip":
            continue
        config = target.config.connections[step.target_connection]
        if config.access == "read" or getattr(config, "read_only", False):
            setting = "access: read" if config.access == "read" else "read_only: true"
            raise PromoteError(
                f"connection '{step.target_connection}' is read-only in env '{target.env}' "
                f"({setting}); promote writes {step.relation} there",
                hint=f"remove `{setting}` from that connection in env '{target.env}', or "
                "promote to another environment",
            )


def check_sources_exist(plan: PromotePlan, source: Project) -> None:
    """Every table to copy exists in the source environment (nothing is copied otherwise)."""
    from interlace.opening import open_engines

    copies = plan.of("copy")
    present: dict[str, set[tuple[str, str]]] = {}
    for connection in sorted({s.source_connection for s in copies}):
        engine = open_engines(source, [connection])[connection]
        try:
            if getattr(engine, "exists", True):
                present[connection] = {(s, n) for s, n, _ in engine.list_relations("%")}
            else:
                present[connection] = set()  # a database file never created: nothing in it
        finally:
            engine.close()
    missing = []
    for step in copies:
        spec = source.models[step.model]
        if (spec.schema, spec.name) not in present[step.source_connection]:
            missing.append(step)
    if not missing:
        return
    listed = ", ".join(
        f"{source.models[s.model].qualified_name} ({plan.where(source.env, s.source_connection)})"
        for s in missing
    )
    raise PromoteError(
        f"{len(missing)} table(s) to promote do not exist in env '{source.env}': {listed}",
        hint=f"build them there first: interlace run --env {source.env} "
        + " ".join(s.model for s in missing),
    )
