"""The model dependency graph and model selection (pure functions, no I/O).

Selection syntax, the same in the CLI, the API and the UI:

- ``name`` (or ``schema.name``): that model
- ``+name``: the model and all its ancestors; ``name+``: and all its descendants; ``+name+``: both
- ``tag:finance``: every model tagged ``finance`` (``+tag:x`` / ``tag:x+`` work too)
- ``*`` matches in names: ``stg_*``
"""

from __future__ import annotations

import difflib
import fnmatch
import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from interlace.errors import GraphError, SelectionError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


@dataclass(frozen=True)
class Graph:
    """A DAG over model names. ``order`` is a deterministic topological order."""

    parents: Mapping[str, tuple[str, ...]]
    children: Mapping[str, tuple[str, ...]]
    order: tuple[str, ...]
    _index: Mapping[str, int] = field(default_factory=dict, repr=False)

    def ancestors(self, name: str) -> set[str]:
        return _walk(name, self.parents)

    def descendants(self, name: str) -> set[str]:
        return _walk(name, self.children)

    def sort(self, names: Iterable[str]) -> list[str]:
        """``names`` in topological order."""
        return sorted(names, key=self._index.__getitem__)

    def __contains__(self, name: object) -> bool:
        return name in self.parents

    def __len__(self) -> int:
        return len(self.order)


def _walk(start: str, edges: Mapping[str, tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    stack = list(edges.get(start, ()))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(edges.get(node, ()))
    return seen


def build_graph(dependencies: Mapping[str, Iterable[str]]) -> Graph:
    """Build the graph; raise :class:`GraphError` on unknown nodes or a cycle (printing it)."""
    parents = {name: tuple(dict.fromkeys(deps)) for name, deps in dependencies.items()}
    for name, deps in parents.items():
        for dep in deps:
            if dep not in parents:
                raise GraphError(f"model '{name}' depends on unknown model '{dep}'", model=name)
            if dep == name:
                raise GraphError(f"model '{name}' depends on itself", model=name)
    children: dict[str, list[str]] = {name: [] for name in parents}
    for name, deps in parents.items():
        for dep in deps:
            children[dep].append(name)
    # Kahn's algorithm; ties broken by name for a stable order
    remaining = {name: len(deps) for name, deps in parents.items()}
    ready = sorted(name for name, count in remaining.items() if count == 0)
    order: list[str] = []

    heapq.heapify(ready)
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for child in children[node]:
            remaining[child] -= 1
            if remaining[child] == 0:
                heapq.heappush(ready, child)
    if len(order) != len(parents):
        cycle = _find_cycle({n for n, c in remaining.items() if c > 0}, parents)
        raise GraphError(
            "dependency cycle: " + " -> ".join(cycle),
            hint="break the cycle: one of these models must stop reading another",
            model=cycle[0],  # lets the project loader point at this model's file:line
        )
    return Graph(
        parents=parents,
        children={k: tuple(v) for k, v in children.items()},
        order=tuple(order),
        _index={name: i for i, name in enumerate(order)},
    )


def _find_cycle(nodes: set[str], parents: Mapping[str, tuple[str, ...]]) -> list[str]:
    start = min(nodes)
    path: list[str] = []
    position: dict[str, int] = {}
    node = start
    while node not in position:
        position[node] = len(path)
        path.append(node)
        node = min(p for p in parents[node] if p in nodes)
    cycle = [*path[position[node] :], node]
    cycle.reverse()  # print in data-flow order: upstream -> downstream
    return cycle


def _matches(
    pattern: str,
    names: Iterable[str],
    tags: Mapping[str, Iterable[str]],
    aliases: Mapping[str, str],
) -> set[str]:
    if pattern.startswith("tag:"):
        tag = pattern[4:]
        return {name for name in names if tag in tags.get(name, ())}
    if any(ch in pattern for ch in "*?["):
        return {n for n in names if fnmatch.fnmatchcase(n, pattern)} | {
            aliases[a] for a in aliases if fnmatch.fnmatchcase(a, pattern)
        }
    if pattern in aliases:
        return {aliases[pattern]}
    return {pattern} if pattern in set(names) else set()


def select(
    graph: Graph,
    selectors: Iterable[str] | None,
    exclude: Iterable[str] | None = None,
    *,
    tags: Mapping[str, Iterable[str]] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> list[str]:
    """Resolve selectors to model names in topological order.

    No selectors means every model. A selector that matches nothing is an error (so a typo never
    silently runs nothing); ``aliases`` maps ``schema.name`` spellings to model names.

    >>> g = build_graph({"a": [], "b": ["a"], "c": ["b"]})
    >>> select(g, ["+b"])
    ['a', 'b']
    """
    tags = tags or {}
    aliases = aliases or {}
    selectors = [s.strip() for s in (selectors or []) if s.strip()]
    chosen: set[str] = set(graph.order) if not selectors else set()
    for selector in selectors:
        chosen |= _resolve(graph, selector, tags, aliases)
    for selector in [s.strip() for s in (exclude or []) if s.strip()]:
        chosen -= _resolve(graph, selector, tags, aliases)
    return graph.sort(chosen)


def _resolve(
    graph: Graph, selector: str, tags: Mapping[str, Iterable[str]], aliases: Mapping[str, str]
) -> set[str]:
    up = selector.startswith("+")
    down = selector.endswith("+") and len(selector) > 1
    core = selector[1 if up else 0 : len(selector) - (1 if down else 0)]
    if not core:
        raise SelectionError(
            f"selector {selector!r} names no model", hint="use NAME, +NAME, NAME+, tag:X"
        )
    matched = _matches(core, graph.order, tags, aliases)
    if not matched:
        known = list(graph.order)
        close = difflib.get_close_matches(core, known, n=3)
        all_tags = sorted({t for ts in tags.values() for t in ts})
        if core.startswith("tag:"):
            hint = f"known tags: {', '.join(all_tags) or '(none)'}"
        elif close:
            hint = f"did you mean {', '.join(close)}?"
        else:
            hint = "`interlace info` lists the models"
        raise SelectionError(f"selector {selector!r} matches no model", hint=hint)
    result = set(matched)
    for name in matched:
        if up:
            result |= graph.ancestors(name)
        if down:
            result |= graph.descendants(name)
    return result
