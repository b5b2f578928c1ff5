"""What a planned change does to a model's table, and what it breaks (``interlace plan``).

From the columns a model's table has now (its schema history) and the columns its query will
produce (its column lineage): the predicted :class:`ColumnChange` list, the
:class:`BreakingChange` list with the downstream columns each breaks, and what the model's
``schema_mode`` will refuse when it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from interlace.schema_modes import is_widening, normalize

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from interlace.lineage import ModelLineage
    from interlace.project import Project
    from interlace.spec import ModelSpec
    from interlace.state.lineage import ModelVersion

BreakingKind = Literal["removed_column", "renamed_column", "narrowing_type", "key_change"]


@dataclass(frozen=True)
class ColumnChange:
    """One difference between a model's table and what its query now produces."""

    kind: Literal["added", "removed", "type_changed"]
    column: str
    old_type: str | None = None
    new_type: str | None = None

    def __str__(self) -> str:
        if self.kind == "added":
            return f"+ {self.column}" + (f" {self.new_type}" if self.new_type else "")
        if self.kind == "removed":
            return f"- {self.column}"
        return f"~ {self.column} {self.old_type} -> {self.new_type}"


@dataclass(frozen=True)
class Affected:
    """A downstream column (or a whole model, ``column`` None) a breaking change breaks."""

    model: str
    column: str | None


@dataclass(frozen=True)
class BreakingChange:
    """A change of a model that can break its readers."""

    model: str
    kind: BreakingKind
    column: str | None
    detail: str
    affected: tuple[Affected, ...] = ()

    @property
    def affected_models(self) -> list[str]:
        return list(dict.fromkeys(a.model for a in self.affected))


def predict_changes(
    old: Mapping[str, str | None] | None, new: ModelLineage | None
) -> tuple[list[ColumnChange], bool]:
    if new is None or new.status == "unknown" or not new.columns or "*" in new.names:
        return [], old is None
    if old is None:
        return [], True  # a new table: nothing to compare with
    lowered = {c.lower(): (c, t) for c, t in old.items()}
    changes: list[ColumnChange] = []
    seen: set[str] = set()
    for column in new.columns:
        key = column.name.lower()
        seen.add(key)
        if key not in lowered:
            changes.append(ColumnChange("added", column.name, new_type=column.type))
            continue
        old_type = lowered[key][1]
        if column.type and old_type and normalize(column.type) != normalize(old_type):
            changes.append(ColumnChange("type_changed", column.name, old_type, column.type))
    for key, (name, kind) in lowered.items():
        if key not in seen:
            changes.append(ColumnChange("removed", name, old_type=kind))
    return changes, True


def schema_refusal(
    spec: ModelSpec,
    old: Mapping[str, str | None],
    new: ModelLineage,
    null_only: Callable[[list[str]], frozenset[str]] | None = None,
) -> str | None:
    """What the model's ``schema_mode`` will refuse of the predicted change when it runs (the
    same decision the publish makes, on the predicted columns instead of the staged ones).
    ``null_only(columns)``: which of the table's columns hold only NULLs (a type change of
    those is allowed), asked only when a type change would be refused."""
    from interlace.engines.base import Column
    from interlace.strategies import get_strategy

    if spec.materialize != "table":
        return None
    strategy = get_strategy(spec.strategy)
    if not strategy.writes:
        return None
    lowered = {c.lower(): t for c, t in old.items()}
    target = [Column(c, t or "UNKNOWN") for c, t in old.items()]
    staged = [
        Column(c.name, c.type or lowered.get(c.name.lower()) or "UNKNOWN") for c in new.columns
    ]
    found = strategy.schema_plan(spec, staged, target)
    if found.error is not None and "type change" in found.error and null_only is not None:
        types = {c.name: c.type for c in staged}
        changed = [c.name for c in target if c.name in types and types[c.name] != c.type]
        empty = null_only(changed)
        if empty:
            found = strategy.schema_plan(spec, staged, target, empty)
    if found.error is None:
        return None
    return f"{found.error} (schema_mode {spec.schema_mode}; a run refuses it unless --full-refresh)"


def _readers(name: str, column: str, *lineages: Mapping[str, ModelLineage]) -> tuple[Affected, ...]:
    from interlace.project_lineage import downstream_of

    found: dict[tuple[str, str], None] = {}
    for lineage in lineages:
        for model, col, _, _ in downstream_of(lineage, name, column):
            found[(model, col)] = None
    return tuple(Affected(m, c) for m, c in sorted(found))


def breaking_changes(
    project: Project,
    name: str,
    changes: list[ColumnChange],
    lineage: Mapping[str, ModelLineage],
    before: Mapping[str, ModelLineage],
    version: ModelVersion | None,
    primary_key: tuple[str, ...],
) -> list[BreakingChange]:
    out: list[BreakingChange] = []
    added = {c.column: c for c in changes if c.kind == "added"}
    new = lineage.get(name)
    old = before.get(name)
    for change in changes:
        if change.kind == "removed":
            renamed_to = _renamed_to(change.column, added, new, old)
            affected = _readers(name, change.column, lineage, before)
            if renamed_to is not None:
                out.append(
                    BreakingChange(
                        name,
                        "renamed_column",
                        change.column,
                        f"column {change.column} renamed to {renamed_to}",
                        affected,
                    )
                )
            else:
                out.append(
                    BreakingChange(
                        name,
                        "removed_column",
                        change.column,
                        f"column {change.column} removed",
                        affected,
                    )
                )
        elif change.kind == "type_changed":
            assert change.old_type is not None and change.new_type is not None
            if not is_widening(change.old_type, change.new_type):
                out.append(
                    BreakingChange(
                        name,
                        "narrowing_type",
                        change.column,
                        f"column {change.column} changes type {change.old_type} -> "
                        f"{change.new_type} (not a widening)",
                        _readers(name, change.column, lineage, before),
                    )
                )
    if version is not None and tuple(version.primary_key) != tuple(primary_key):
        old_key = ", ".join(version.primary_key) or "(none)"
        new_key = ", ".join(primary_key) or "(none)"
        readers: dict[tuple[str, str | None], None] = {}
        for column in sorted({*version.primary_key, *primary_key}):
            for item in _readers(name, column, lineage, before):
                readers[(item.model, item.column)] = None
        for child in project.graph.children[name]:
            if not any(m == child for m, _ in readers):
                readers[(child, None)] = None
        out.append(
            BreakingChange(
                name,
                "key_change",
                None,
                f"primary key changes from ({old_key}) to ({new_key})",
                tuple(Affected(m, c) for m, c in readers),
            )
        )
    return out


def _renamed_to(
    column: str,
    added: Mapping[str, ColumnChange],
    new: ModelLineage | None,
    old: ModelLineage | None,
) -> str | None:
    """The added column that is the removed ``column`` under a new name: computed from the
    same upstream columns as before (or a plain rename of an upstream column of that name)."""
    if new is None:
        return None
    old_entry = old.column(column) if old is not None else None
    for name in added:
        entry = new.column(name)
        if entry is None or not entry.sources:
            continue
        if old_entry is not None and old_entry.sources and old_entry.sources == entry.sources:
            return name
        if entry.transform == "renamed" and any(
            s.column.lower() == column.lower() for s in entry.sources
        ):
            return name
    return None
