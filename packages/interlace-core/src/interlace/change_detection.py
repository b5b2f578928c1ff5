"""Deciding whether a model must run (pure: no I/O).

A model runs when it never ran, its fingerprint changed, its table is missing, an upstream wrote
new data since its last success, it is a root model (reads outside data) whose cache is not
fresh, or the run is forced. Otherwise it is skipped, and the reason says why. A source (a node
of an extension kind that something outside runs fills, such as a stream) is never run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from interlace.durations import parse_duration
from interlace.seeds import is_seed

if TYPE_CHECKING:
    from collections.abc import Mapping

    from interlace.spec import ModelSpec
    from interlace.state.base import ModelState


@dataclass(frozen=True)
class Decision:
    run: bool
    reason: str


def decide(
    spec: ModelSpec,
    *,
    state: ModelState | None,
    fingerprint: str,
    upstream_versions: Mapping[str, int] | None,
    relation_exists: bool,
    force: bool,
    now: float,
) -> Decision:
    """``upstream_versions``: data versions of the tables the model reads (through views and
    ephemeral models); ``None`` means the model reads outside data (a root)."""
    if spec.is_source:
        missing = "" if relation_exists else "; its table does not exist yet"
        return Decision(False, f"{spec.kind}: a source, filled outside runs{missing}")
    if force:
        return Decision(True, "forced")
    if state is None:
        return Decision(True, "first run")
    if state.fingerprint != fingerprint:
        return Decision(True, "definition changed")
    if not relation_exists:
        return Decision(True, "table is missing")
    if upstream_versions is None:
        if is_seed(spec.definition):  # its fingerprint covers the file's content
            return Decision(False, "seed file unchanged since the last run")
        cache = spec.options.cache
        if cache is None or cache.strategy == "always":
            return Decision(True, "reads outside data (no cache)")
        if cache.strategy == "if_exists":
            return Decision(False, "cached: table exists (cache strategy if_exists)")
        assert cache.ttl is not None
        age = now - (state.last_success_at or 0)
        ttl = parse_duration(cache.ttl).total_seconds()
        if age < ttl:
            return Decision(False, f"cached: last built {_age(age)} ago, ttl {cache.ttl}")
        return Decision(True, f"cache expired (ttl {cache.ttl})")
    changed = sorted(
        name
        for name, version in upstream_versions.items()
        if version != state.upstream_versions.get(name)
    )
    if changed:
        return Decision(True, f"new data in {', '.join(changed)}")
    return Decision(False, "unchanged since the last run")


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"
