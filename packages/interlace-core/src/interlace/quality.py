"""The core side of data quality: declared checks, results, and the runner interface.

Check types and their SQL live in the ``interlace-quality`` distribution, which registers a
runner under the ``interlace.checks`` entry point. Core asks it to validate declared checks at
load time and to run them: ``error`` checks against the staged result before publication
(write-audit-publish), ``warn`` checks after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from interlace.errors import ModelExecutionError

if TYPE_CHECKING:
    from sqlglot import exp

    from interlace.engines.base import Session
    from interlace.spec import ModelSpec
    from interlace.status import CheckStatus, Severity

# Where a model (by name or ``schema.name``) can be read during the checks: its table or view, or
# its query when it is inlined. None when the name is no model of the project. Raises an
# InterlaceError when the model cannot be read from the checked model's connection. Checks that
# reference other models (``relationships``) use it.
Resolver = Callable[[str], "exp.Expr | None"]


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    """The outcome of one check on one model (built by keyword)."""

    model: str
    name: str  # e.g. "not_null(customer_id)"
    check_type: str
    severity: Severity
    status: CheckStatus
    failing_rows: int = 0
    sample: list[dict[str, Any]] = field(default_factory=list)
    sql: str | None = None
    message: str | None = None
    duration: float = 0.0

    @property
    def blocks(self) -> bool:
        """A failed (or broken) error-severity check stops publication."""
        return self.severity == "error" and self.status != "passed"


class Check(Protocol):
    """A validated check, as the runner returns it from :meth:`CheckRunner.validate`.

    A check that reads other models may also have ``references`` (names or ``schema.name``):
    those models become upstreams of the checked model, so the check sees their data of the same
    run.
    """

    severity: Severity


@dataclass(frozen=True)
class Audit:
    """A check of ``model`` that reads models which read ``model`` themselves (``after``): a
    ``relationships`` check whose ``to`` is built from the checked model, say. Running it
    before ``model`` is published would need ``after`` first, a cycle; so it audits instead:
    it runs once the models are built, against their published tables, and a failure fails
    the run without keeping ``model``'s new table out."""

    model: str
    check: Check
    after: tuple[str, ...]


class CheckRunner(Protocol):
    def validate(
        self,
        model: str,
        checks: list[Any],
        file: str | None,
        line: int | None,
        *,
        locations: Sequence[tuple[str | None, int | None]] | None = None,
    ) -> list[Check]:
        """Normalise declared checks; raise ModelDefinitionError naming the bad check.

        ``locations`` gives each check's own file and line (checks in the config file), in
        place of ``file`` and ``line``.
        """
        ...

    def run(
        self,
        session: Session,
        model: ModelSpec,
        relation: exp.Expr,
        checks: list[Check],
        resolve: Resolver | None = None,
    ) -> list[CheckResult]:
        """Run checks against ``relation`` (a staged table, a published table or a query).

        ``resolve`` finds the relations of other models that checks reference.
        """
        ...


class QualityCheckError(ModelExecutionError):
    """Error-severity checks failed against the staged result; nothing was published."""

    def __init__(self, model: str, results: list[CheckResult]) -> None:
        failed = [r for r in results if r.blocks]
        detail = "; ".join(
            f"{r.name}: {r.message or f'{r.failing_rows} failing row(s)'}" for r in failed
        )
        super().__init__(
            f"{len(failed)} error check(s) failed, the previous table is kept: {detail}",
            model=model,
            hint="fix the data or the model; `interlace run --quality-only` re-checks tables",
        )
        self.results = results
