"""The check runner core discovers under the ``interlace.checks`` entry point.

Core calls :meth:`QualityRunner.validate` when a project loads and :meth:`QualityRunner.run`
when a model is written (error checks on the staged table, warn checks on the published one)
and for ``interlace run --quality-only``. Every check runs as SQL in the model's engine: one
query counts the failing rows, one fetches up to five of them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from interlace.errors import InterlaceError
from interlace.quality import CheckResult
from sqlglot import exp

from interlace_quality.checks.base import (
    SAMPLE_SIZE,
    BaseCheck,
    CheckContext,
    CheckSetupError,
    Plan,
    RowsPlan,
    ValuePlan,
    Verdict,
    columns_of,
    engine_message,
)
from interlace_quality.declaration import parse_checks

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pyarrow as pa
    from interlace.engines.base import Session
    from interlace.quality import Check, Resolver
    from interlace.spec import ModelSpec
    from interlace.status import CheckStatus


class QualityRunner:
    """Validates declared checks and runs them against a relation.

    Example (what core does for a model)::

        runner = QualityRunner()
        checks = runner.validate("orders", [{"not_null": "id"}], "models/orders.sql", 1)
        results = runner.run(session, spec, st.table("main", "orders"), checks)
    """

    def validate(
        self,
        model: str,
        checks: list[Any],
        file: str | None,
        line: int | None,
        *,
        locations: Sequence[tuple[str | None, int | None]] | None = None,
    ) -> list[Check]:
        return list(parse_checks(model, list(checks), file, line, locations=locations))

    def run(
        self,
        session: Session,
        model: ModelSpec,
        relation: exp.Expr,
        checks: list[Check],
        resolve: Resolver | None = None,
    ) -> list[CheckResult]:
        ours = [_ours(check) for check in checks]
        try:
            schema = columns_of(session, relation)
        except Exception as exc:
            what = relation.sql(dialect=session.dialect) if isinstance(relation, exp.Table) else ""
            message = f"cannot read {what or 'the relation'}: {engine_message(exc)}"
            return [_result(model, check, "error", message=message) for check in ours]
        results: list[CheckResult] = []
        aborted: str | None = None
        for check in ours:
            if aborted is not None:
                results.append(_result(model, check, "error", message=aborted))
                continue
            result, engine_failed = self._run_one(session, model, relation, schema, check, resolve)
            results.append(result)
            if engine_failed and not _usable(session):
                # e.g. DuckDB after a conversion error inside the write's transaction
                aborted = (
                    f"not run: the database aborted the transaction when '{result.name}' failed"
                )
        return results

    def _run_one(
        self,
        session: Session,
        model: ModelSpec,
        relation: exp.Expr,
        schema: pa.Schema,
        check: BaseCheck,
        resolve: Resolver | None,
    ) -> tuple[CheckResult, bool]:
        """The check's result, and whether the engine raised an error running it."""
        started = time.perf_counter()
        ctx = CheckContext(session, model, relation, schema, check, resolve)
        sql: str | None = None
        try:
            for column in check.needs():
                ctx.column_name(column)
            plan = check.plan(ctx)
            sql = _sql_of(plan, session.dialect)
            verdict, sample = _execute(session, plan)
        except (CheckSetupError, InterlaceError) as exc:
            message = exc.message if isinstance(exc, InterlaceError) else str(exc)
            return _result(model, check, "error", sql=sql, message=message, started=started), False
        except Exception as exc:  # the engine refused the check's SQL
            message = f"the check's SQL failed: {engine_message(exc)}"
            return _result(model, check, "error", sql=sql, message=message, started=started), True
        passed = verdict.message is None
        return _result(
            model,
            check,
            "passed" if passed else "failed",
            failing_rows=verdict.failing_rows,
            sample=sample,
            sql=sql or verdict.sql,
            message=verdict.message,
            started=started,
        ), False


def _usable(session: Session) -> bool:
    try:
        session.fetch_one(exp.select(exp.Literal.number(1)))
    except Exception:
        return False
    return True


def _ours(check: Check) -> BaseCheck:
    if not isinstance(check, BaseCheck):
        raise TypeError(f"{check!r} was not validated by interlace-quality")
    return check


def _sql_of(plan: Plan, dialect: str) -> str | None:
    if isinstance(plan, RowsPlan):
        return plan.failing.sql(dialect=dialect)
    if isinstance(plan, ValuePlan):
        return plan.query.sql(dialect=dialect)
    return plan.sql


def _execute(session: Session, plan: Plan) -> tuple[Verdict, list[dict[str, Any]]]:
    if isinstance(plan, Verdict):
        return plan, []
    if isinstance(plan, ValuePlan):
        row = session.fetch_one(plan.query)
        return plan.judge(tuple(row or (None,))), []
    count = plan.count or exp.select(exp.Count(this=exp.Star())).from_(
        plan.failing.subquery("failing")
    )
    row = session.fetch_one(count)
    failing = int(row[0] or 0) if row else 0
    if not failing:
        return Verdict(0, None), []
    sample_query = (plan.sample or plan.failing).copy().limit(SAMPLE_SIZE)
    sample = session.fetch_arrow(sample_query).to_pylist()
    return Verdict(failing, plan.message(failing)), sample


def _result(
    model: ModelSpec,
    check: BaseCheck,
    status: CheckStatus,
    *,
    failing_rows: int = 0,
    sample: list[dict[str, Any]] | None = None,
    sql: str | None = None,
    message: str | None = None,
    started: float | None = None,
) -> CheckResult:
    return CheckResult(
        model=model.name,
        name=check.label,
        check_type=check.check_type,
        severity=check.severity,
        status=status,
        failing_rows=failing_rows,
        sample=sample or [],
        sql=sql,
        message=message,
        duration=time.perf_counter() - started if started is not None else 0.0,
    )
