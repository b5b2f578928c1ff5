"""The strategy interface: (staged relation, target, spec, capabilities) -> statements.

A strategy never runs anything. It returns :class:`Step` objects (sqlglot ASTs) that the
materializer runs in one transaction; a step may ask for its result to be recorded as row
counts (a DML statement's affected rows, or a SELECT returning named counts).

A strategy also says what it needs (keys, delete modes, options, engine capabilities) and checks
a model's options against that when the project loads: core asks the strategy object and never
its name. Strategies are found by name in :mod:`interlace.strategy_registry`.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, ClassVar

from sqlglot import exp

if TYPE_CHECKING:
    from interlace.engines.base import Capabilities, Column
    from interlace.schema_modes import SchemaPlan
    from interlace.spec import ModelOptions, ModelSpec


@dataclass(frozen=True)
class Step:
    statement: exp.Expr
    record: tuple[str, ...] = ()  # names for the counts this statement returns


@dataclass(frozen=True)
class PublishContext:
    """Everything a strategy may look at to decide its statements."""

    spec: ModelSpec
    target: exp.Table
    target_name: str
    staging: exp.Table
    target_kind: str | None  # 'table', 'view' or None when absent
    staged_columns: list[Column]
    target_columns: list[Column]
    capabilities: Capabilities
    dialect: str
    run_ts: dt.datetime

    @property
    def keys(self) -> tuple[str, ...]:
        return self.spec.options.primary_key

    @property
    def staged_names(self) -> list[str]:
        return [c.name for c in self.staged_columns]


@dataclass(frozen=True)
class OptionProblem:
    """Why a model's options do not fit its strategy, and what to do about it."""

    message: str
    hint: str


class Strategy(ABC):
    """Turns a staged result into the statements that publish it.

    A subclass declares what it needs in class attributes; :meth:`check_options` holds the
    model's options against them when the project loads.

    Example (the whole of a strategy that only inserts keys the table does not have yet)::

        class InsertOnly(Strategy):
            name = "insert_only"
            needs_keys = True

            def steps(self, ctx: PublishContext) -> list[Step]:
                if ctx.target_kind != "table":
                    return swap_in(ctx)  # first run: the staged result becomes the table
                return [Step(new_keys_only(ctx), ("inserted",)), Step(st.drop(ctx.staging))]
    """

    name: ClassVar[str]
    # False: the model's output is not written at all (its own code writes, if anything)
    writes: ClassVar[bool] = True
    # False: each run's result becomes the whole table (no cursor; the table's old columns do
    # not matter). True: a run adds to or changes the rows earlier runs wrote
    incremental: ClassVar[bool] = True
    # every batch must carry unique, non-NULL ``primary_key`` values (see :meth:`keyed`)
    needs_keys: ClassVar[bool] = False
    # the ``delete_mode`` values it accepts, the default first; () when it takes none
    delete_modes: ClassVar[tuple[str, ...]] = ()
    # model options that only this strategy reads (``scd2``); others refuse them
    own_options: ClassVar[frozenset[str]] = frozenset()
    # :class:`~interlace.engines.base.Capabilities` flags it cannot do without
    requires: ClassVar[tuple[str, ...]] = ()

    def keyed(self, spec: ModelSpec) -> bool:
        """Whether the batch must carry unique, non-NULL ``primary_key`` values."""
        return self.needs_keys

    def check_options(self, options: ModelOptions) -> OptionProblem | None:
        """The first problem of a model's options under this strategy, or None.

        The base checks the declarations above; a strategy with rules of its own overrides
        this and calls ``super()`` first.
        """
        from interlace.strategy_registry import registered_strategies

        name = self.name
        if self.needs_keys and not options.primary_key:
            return OptionProblem(
                f"strategy '{name}' needs primary_key",
                "add primary_key='id' (or a list for a composite key)",
            )
        if options.delete_mode is not None:
            if not self.delete_modes:
                takers = [s.name for s in registered_strategies() if s.delete_modes]
                return OptionProblem(
                    f"delete_mode applies to the {_either(takers, 'and')} strategies only",
                    "remove delete_mode, or set "
                    + _either([f"strategy='{t}'" for t in takers], "or"),
                )
            if options.delete_mode not in self.delete_modes:
                return OptionProblem(
                    f"delete_mode {options.delete_mode!r} is not valid for strategy '{name}'",
                    f"use one of: {', '.join(self.delete_modes)}",
                )
        foreign = sorted(options.model_fields_set & _strategy_options() - self.own_options)
        if foreign:  # another strategy's own option (scd2= on merge_by_key)
            option = foreign[0]
            takers = [s.name for s in registered_strategies() if option in s.own_options]
            return OptionProblem(
                f"option '{option}' applies to the {_either(takers, 'and')} "
                f"strateg{'y' if len(takers) == 1 else 'ies'} only, not to '{name}'",
                f"remove {option}, or set " + _either([f"strategy='{t}'" for t in takers], "or"),
            )
        if options.cursor and self.writes and not self.incremental:
            takers = [s.name for s in registered_strategies() if s.writes and s.incremental]
            return OptionProblem(
                f"cursor= makes the model incremental, but strategy '{name}' would keep only "
                "the newest slice",
                f"use an incremental strategy with a cursor: {', '.join(takers)}",
            )
        return None

    def missing_capabilities(self, capabilities: Capabilities) -> list[str]:
        """The :attr:`requires` flags that ``capabilities`` turns off."""
        return [flag for flag in self.requires if not getattr(capabilities, flag)]

    def staged_extras(self, spec: ModelSpec, run_ts: dt.datetime) -> list[tuple[str, exp.Expr]]:
        """Bookkeeping columns added to the staged result (SCD2 validity, soft-delete flags)."""
        return []

    def computed_extras(
        self, spec: ModelSpec, columns: Callable[[], list[str]], *, first_write: bool
    ) -> list[tuple[str, exp.Expr]]:
        """Bookkeeping columns computed over the result's own columns (SCD2's row hash).

        ``columns()`` lists the result's columns (it may ask the engine, so call it only when
        needed); ``first_write``: the staged result becomes the table. May raise a
        :class:`~interlace.errors.ModelExecutionError` when the options name columns the result
        lacks.
        """
        return []

    def bookkeeping(self, spec: ModelSpec) -> frozenset[str]:
        """Names of the columns this strategy manages itself."""
        return frozenset(name for name, _ in self.staged_extras(spec, _EPOCH))

    def schema_plan(
        self,
        spec: ModelSpec,
        staged: Sequence[Column],
        target: Sequence[Column],
        null_only: frozenset[str] = frozenset(),
    ) -> SchemaPlan:
        """What ``spec``'s ``schema_mode`` makes of its staged result's columns against its
        table's (:func:`interlace.schema_modes.plan_schema`), leaving out the columns this
        strategy manages itself."""
        from interlace.schema_modes import plan_schema

        return plan_schema(
            staged,
            target,
            spec.schema_mode,
            incremental=self.incremental,
            ignore=self.bookkeeping(spec),
            null_only=null_only,
        )

    @abstractmethod
    def steps(self, ctx: PublishContext) -> list[Step]: ...

    def finish_stats(self, stats: dict[str, int]) -> dict[str, int]:
        """Turn the counts the steps recorded into inserted / updated / deleted."""
        return stats

    @classmethod
    def declaration_errors(cls) -> list[str]:
        """What is wrong with the class's declarations (checked when it is registered)."""
        from interlace.engines.base import Capabilities
        from interlace.spec import ModelOptions

        found = []
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name or name.strip() != name:
            found.append("it declares no name (a class attribute `name = '...'`)")
        flags = {f.name for f in fields(Capabilities)}
        found += [f"requires names no capability '{f}'" for f in cls.requires if f not in flags]
        found += [
            f"own_options names no model option '{o}'"
            for o in sorted(cls.own_options)
            if o not in ModelOptions.model_fields
        ]
        return found


def _either(names: list[str], conjunction: str) -> str:
    """``a``, ``a and b``, ``a, b or c``."""
    if len(names) <= 1:
        return "".join(names) or "no registered"
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


def _strategy_options() -> frozenset[str]:
    """Model options that some registered strategy reads alone (``scd2``)."""
    from interlace.strategy_registry import registered_strategies

    return frozenset().union(*(s.own_options for s in registered_strategies()))


_EPOCH = dt.datetime(1970, 1, 1)


def timestamp(value: dt.datetime) -> exp.Expr:
    return exp.cast(exp.Literal.string(value.strftime("%Y-%m-%d %H:%M:%S.%f")), "TIMESTAMP")


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(
        exp.to_identifier(name, quoted=True),
        table=exp.to_identifier(table, quoted=True) if table else None,
    )


def keys_equal(keys: tuple[str, ...], left: str, right: str) -> exp.Expr:
    condition: exp.Expr | None = None
    for key in keys:
        term = exp.EQ(this=col(key, left), expression=col(key, right))
        condition = term if condition is None else exp.and_(condition, term)
    assert condition is not None
    return condition


def exists_in(source: exp.Table, keys: tuple[str, ...], outer: str) -> exp.Exists:
    """``EXISTS (SELECT 1 FROM source AS __s WHERE __s.k = outer.k ...)``."""
    query = (
        exp.select(exp.Literal.number(1))
        .from_(exp.alias_(source.copy(), "__s", table=True))
        .where(keys_equal(keys, "__s", outer))
    )
    return exp.Exists(this=query)


def aliased(table: exp.Table, alias: str) -> exp.Expr:
    return exp.alias_(table.copy(), exp.to_identifier(alias, quoted=True), table=True)


def count_where(condition: exp.Expr) -> exp.Expr:
    """``COALESCE(SUM(CASE WHEN cond THEN 1 ELSE 0 END), 0)``: portable conditional count."""
    case = exp.Case(
        ifs=[exp.If(this=condition, true=exp.Literal.number(1))], default=exp.Literal.number(0)
    )
    return exp.Coalesce(this=exp.Sum(this=case), expressions=[exp.Literal.number(0)])


# Joins, not correlated subqueries: DuckDB runs `UPDATE ... WHERE EXISTS (...)` with an extra
# predicate an order of magnitude slower than the same work written as UPDATE ... FROM /
# DELETE ... USING (measured on DuckDB 1.5; PostgreSQL accepts both forms too).


def delete_matching(
    target: exp.Table, source: exp.Table, keys: tuple[str, ...], extra: exp.Expr | None = None
) -> exp.Delete:
    """``DELETE FROM target AS t USING source AS __s WHERE keys match [AND extra]``."""
    condition = keys_equal(keys, "__s", "t")
    if extra is not None:
        condition = exp.and_(condition, exp.paren(extra))
    return exp.Delete(
        this=aliased(target, "t"),
        using=[aliased(source, "__s")],
        where=exp.Where(this=condition),
    )


def missing_keys(
    target: exp.Table, batch: exp.Table, keys: tuple[str, ...], where: exp.Expr | None = None
) -> exp.Select:
    """Keys of ``target`` rows (alias ``x``) that ``batch`` does not have."""
    query = (
        exp.select(*[col(k, "x") for k in keys])
        .from_(aliased(target, "x"))
        .join(aliased(batch, "__b"), on=keys_equal(keys, "__b", "x"), join_type="left")
        .where(exp.Is(this=col(keys[0], "__b"), expression=exp.null()))
    )
    return query.where(where) if where is not None else query


def update_matching(
    target: exp.Table,
    source: exp.Expr,
    keys: tuple[str, ...],
    assignments: Sequence[exp.Expr],
    extra: exp.Expr | None = None,
) -> exp.Update:
    """``UPDATE target AS t SET ... FROM source AS __m WHERE keys match [AND extra]``."""
    if isinstance(source, exp.Table):
        relation: exp.Expr = aliased(source, "__m")
    else:
        relation = exp.Subquery(this=source, alias=exp.TableAlias(this=exp.to_identifier("__m")))
    condition = keys_equal(keys, "__m", "t")
    if extra is not None:
        condition = exp.and_(condition, exp.paren(extra))
    return exp.Update(
        this=aliased(target, "t"),
        expressions=list(assignments),
        from_=exp.From(this=relation),
        where=exp.Where(this=condition),
    )


NEW_FLAG = "__il_new"
GONE_FLAG = "__il_gone"


def change_set(diff: exp.Table, select: exp.Select, *, gone: bool = False) -> list[Step]:
    """Store new and changed rows (flagged ``__il_new``) in a temporary table, and count them
    as ``inserted`` / ``updated``. ``gone``: the select also yields the table's rows whose key
    the batch lacks (flagged ``__il_gone``), counted as ``deleted``."""
    changed: exp.Expr = exp.not_(col(NEW_FLAG))
    counts = [exp.alias_(count_where(col(NEW_FLAG)), "inserted")]
    if gone:
        changed = exp.and_(changed, exp.not_(col(GONE_FLAG)))
    counts.append(exp.alias_(count_where(changed), "updated"))
    if gone:
        counts.append(exp.alias_(count_where(col(GONE_FLAG)), "deleted"))
    return [
        Step(
            exp.Create(
                this=diff,
                kind="TABLE",
                expression=select,
                properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
            )
        ),
        Step(
            exp.select(*counts).from_(diff.copy()),
            tuple(str(c.alias) for c in counts),
        ),
    ]
