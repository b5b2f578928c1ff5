"""Model fingerprints: what a model computes, so that only real changes trigger a rebuild.

SQL is canonicalised by sqlglot (formatting and comments do not count); Python models hash their
dedented source; nodes of an extension kind hash what their kind says (``ModelKind.fingerprint``).
Options that change the result count; documentation (description, owner, tags) does not. Each
fingerprint also covers the fingerprints of its upstreams.
"""

from __future__ import annotations

import hashlib
import inspect
import textwrap
from typing import TYPE_CHECKING, Any

from interlace.types import to_sql_type

if TYPE_CHECKING:
    from collections.abc import Callable

    from interlace.project import Project
    from interlace.spec import ModelSpec

_IGNORED_OPTIONS = {
    "description",
    "owner",
    "tags",
    "schedule",
    "sla",
    "quality_checks",
    "retry_policy",
    "export",
    "cache",
    "column_docs",  # descriptions, column checks (also in quality_checks) and declared sources
}


def _body(spec: ModelSpec, project: Project) -> str:
    if spec.kind == "sql":
        return project.sql_facts[spec.name].canonical
    if spec.kind == "python":
        assert spec.fn is not None
        return _source(spec.fn)
    declared = project.kinds[spec.kind].fingerprint(spec)
    return declared if spec.fn is None else f"{declared}\n{_source(spec.fn)}"


def _source(fn: Callable[..., Any]) -> str:
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return str(getattr(fn, "__qualname__", type(fn).__qualname__))


def _options(spec: ModelSpec) -> str:
    data = spec.options.model_dump(mode="json", exclude={*_IGNORED_OPTIONS, "fields"})
    # declared types may be Python types (not JSON): hash the SQL type each one means
    fields = [(n, to_sql_type(t).sql(dialect="duckdb")) for n, t in spec.options.fields.items()]
    resolved = (spec.schema, spec.connection, spec.materialize, spec.strategy, spec.schema_mode)
    return repr((sorted(data.items()), fields, resolved))


def definition_hash(spec: ModelSpec, project: Project) -> str:
    """The hash of the model's own definition (its SQL or source and options), without its
    upstreams' fingerprints: it changes only when the model itself is edited."""
    return str(_own(spec, project).hexdigest()[:32])


def _own(spec: ModelSpec, project: Project) -> Any:  # a hashlib sha256 object
    digest = hashlib.sha256()
    digest.update(spec.kind.encode())
    digest.update(_body(spec, project).encode())
    digest.update(_options(spec).encode())
    return digest


def fingerprints(project: Project) -> dict[str, str]:
    """Fingerprints of every model of the project (topological, so upstreams come first)."""
    return fingerprints_and_definitions(project)[0]


def fingerprints_and_definitions(project: Project) -> tuple[dict[str, str], dict[str, str]]:
    """Fingerprints, and the hashes of each model's own definition (:func:`definition_hash`),
    computed together (the definition is the fingerprint's first part)."""
    out: dict[str, str] = {}
    own: dict[str, str] = {}
    for name in project.graph.order:
        digest = _own(project.models[name], project)
        own[name] = digest.hexdigest()[:32]
        for parent in project.graph.parents[name]:
            digest.update(out[parent].encode())
        out[name] = digest.hexdigest()[:32]
    return out, own
