"""State-based selection: ``state:modified``, ``state:modified+``, ``state:new`` (SPEC §2.5).

These selectors compare the project on disk with what another environment last ran
(``--state-env prod``): a model is *new* when that environment never built it, and *modified*
when it is new or its own definition (SQL or source and options, not its upstreams) differs
from the one that environment last built. ``+`` works as for names: ``state:modified+`` adds
every model downstream of a modified one. With fallback reads (SPEC §7.3), a pull request's
environment then builds only what changed and reads everything else from production::

    interlace run state:modified+ --state-env prod --env pr_42

Example::

    names = select_with_state(project, ["state:modified+"], [], state_env="prod")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace.errors import SelectionError

if TYPE_CHECKING:
    from interlace.project import Project

STATE_SELECTORS = ("state:modified", "state:new")


def is_state_selector(selector: str) -> bool:
    """Whether ``selector`` (with its ``+`` marks) is a ``state:`` selector."""
    return selector.strip().strip("+").startswith("state:")


def state_sets(project: Project, state_env: str) -> dict[str, set[str]]:
    """``state:modified`` and ``state:new`` of the project against ``state_env``."""
    from interlace.opening import has_state, open_state
    from interlace.project_lineage import definitions

    versions = {}
    if has_state(project):
        store = open_state(project)
        try:
            versions = store.model_versions(state_env)  # type: ignore[attr-defined]
        finally:
            store.close()
    if not versions:
        raise SelectionError(
            f"environment '{state_env}' has no recorded model versions to compare with",
            hint=f"run the project in '{state_env}' first (interlace run --env {state_env}), "
            "with the same state store",
        )
    defs = definitions(project)
    new = {name for name in project.models if name not in versions}
    modified = new | {
        name
        for name, version in versions.items()
        if name in defs and defs[name] != version.definition
    }
    return {"state:modified": modified, "state:new": new}


def select_with_state(
    project: Project,
    selectors: list[str],
    exclude: list[str],
    *,
    state_env: str | None,
) -> list[str]:
    """The models ``selectors`` choose (topological), where ``state:`` selectors compare with
    ``state_env``; a ``state:`` selector that matches nothing is no error (nothing changed)."""
    wanted = [s.strip() for s in selectors if s.strip()]
    stateful = [s for s in wanted if is_state_selector(s)]
    if not stateful:
        return project.select(wanted, exclude)
    if state_env is None:
        raise SelectionError(
            f"selector {stateful[0]!r} needs the environment to compare with",
            hint="add --state-env ENV (e.g. --state-env prod)",
        )
    sets = state_sets(project, state_env)
    graph = project.graph
    chosen: set[str] = set()
    for selector in stateful:
        up, down = selector.startswith("+"), selector.endswith("+")
        core = selector.strip("+")
        if core not in sets:
            raise SelectionError(
                f"unknown state selector {core!r}",
                hint=f"use one of {', '.join(STATE_SELECTORS)} (with + for up/downstream)",
            )
        for name in sets[core]:
            chosen.add(name)
            if up:
                chosen |= graph.ancestors(name)
            if down:
                chosen |= graph.descendants(name)
    others = [s for s in wanted if not is_state_selector(s)]
    if others:
        chosen |= set(project.select(others))
    if exclude:
        chosen -= set(project.select(exclude))
    return graph.sort(chosen)
