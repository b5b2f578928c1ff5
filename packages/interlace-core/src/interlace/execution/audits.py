"""Audits: checks that run after the models they read are built.

A ``relationships`` check of ``orders`` whose ``to`` is ``customers``, a model built from
``orders``, cannot run before ``orders`` is published (``customers`` is not built yet) and must
not order ``customers`` first (a cycle). The loader makes it an :class:`~interlace.quality.Audit`;
once the run has built the models it involves, it runs against their published tables. It
audits, it does not reorder: a failure is reported under the checked model and fails the run,
while the tables stay as built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace.errors import InterlaceError
from interlace.quality import CheckResult

if TYPE_CHECKING:
    from collections.abc import Mapping

    from interlace.materialize.catalog import RunCatalog
    from interlace.quality import Audit
    from interlace.results import ModelResult


def due(audits: list[Audit], results: Mapping[str, ModelResult]) -> list[Audit]:
    """The audits to run after a run with ``results``: one of their models was built in the
    run, and none of those in the run failed, was skipped for a failure or cancelled."""
    found = []
    for audit in audits:
        involved = [results[n] for n in (audit.model, *audit.after) if n in results]
        if any(r.status == "success" for r in involved) and all(
            r.status == "success" or r.skip_kind == "unchanged" for r in involved
        ):
            found.append(audit)
    return found


def run_audit(catalog: RunCatalog, audit: Audit) -> list[CheckResult]:
    """Run one audit against the published tables (blocking: call it from a worker thread)."""
    from interlace.materialize.compile import relation_of
    from interlace.plugins import check_runner

    spec = catalog.project.models[audit.model]
    runner = check_runner()
    engine = catalog.engines.get(spec.connection)
    if runner is None or engine is None:
        return [_broken(audit, "the model's connection is not open in this run")]
    session = engine.session()
    try:
        relation = relation_of(catalog, spec.name, spec.connection)
        if relation is None:  # pragma: no cover - the loader made the audit of a model
            return [_broken(audit, f"model '{spec.name}' is not in the project")]
        results: list[CheckResult] = runner.run(
            session,
            spec,
            relation,
            [audit.check],
            resolve=lambda ref: relation_of(catalog, ref, spec.connection),
        )
        return results
    except InterlaceError as exc:
        return [_broken(audit, exc.message)]
    finally:
        session.close()


def _broken(audit: Audit, message: str) -> CheckResult:
    check = audit.check
    return CheckResult(
        model=audit.model,
        name=str(getattr(check, "label", type(check).__name__)),
        check_type=str(getattr(check, "check_type", "check")),
        severity=check.severity,
        status="error",
        message=message,
    )


__all__ = ["due", "run_audit"]
