"""`scd_type_2`: keep every version of a row, with validity intervals.

Each row carries ``valid_from``, ``valid_to`` (NULL while current), ``is_current`` and a hash of
its tracked columns. A run compares the batch's hashes with the current versions: a changed key
closes its current version at the run's timestamp and opens a new one from the same instant (no
gap, no overlap); a new key opens its first version; an unchanged key writes nothing, ever.
``delete_mode``: ``ignore`` (keys missing from the batch stay current), ``soft`` (their current
version is closed), ``soft_mark`` (closed, and a current tombstone version flagged deleted opens).
With ``scd2.valid_from_column`` a version starts at that column's value instead of the run's
time, and the version it replaces ends there (dbt's timestamp strategy).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlglot import exp

from interlace import statements as st
from interlace.errors import ModelExecutionError
from interlace.strategies.base import (
    GONE_FLAG,
    NEW_FLAG,
    OptionProblem,
    PublishContext,
    Step,
    Strategy,
    aliased,
    change_set,
    col,
    exists_in,
    keys_equal,
    missing_keys,
    timestamp,
    update_matching,
)
from interlace.strategies.merge_by_key import any_distinct, diff_table
from interlace.strategies.replace import swap_in

if TYPE_CHECKING:
    from collections.abc import Callable

    from interlace.spec import ModelOptions, ModelSpec, SCD2Options


def row_hash(columns: list[str], table: str | None = None) -> exp.Expr:
    """MD5 over the tracked columns' names and values (of ``table`` when given).

    Each non-NULL value contributes ``name=length:value``, in column-name order: the hash does
    not depend on the column order, a value moving to another column is a change, NULL and ''
    differ, and a column that is NULL everywhere (just added, say) changes no hash.
    """
    parts: list[exp.Expr] = [exp.Literal.string("")]
    for name in sorted(columns):
        text = exp.cast(col(name, table), "TEXT")
        tagged = exp.Concat(
            expressions=[
                exp.Literal.string(f"{len(name)}:{name}="),
                exp.cast(exp.Length(this=text.copy()), "TEXT"),
                exp.Literal.string(":"),
                text,
            ]
        )
        is_null = exp.Is(this=col(name, table), expression=exp.null())
        parts.append(
            exp.Case(ifs=[exp.If(this=is_null, true=exp.Literal.string(""))], default=tagged)
        )
    return exp.MD5(this=exp.Concat(expressions=parts))


class SCDType2(Strategy):
    name = "scd_type_2"
    needs_keys = True
    delete_modes = ("ignore", "soft", "soft_mark")
    own_options = frozenset({"scd2"})
    requires = ("joined_dml",)  # UPDATE ... FROM

    @staticmethod
    def tracked(spec: ModelSpec, columns: list[str]) -> list[str]:
        opts = spec.options.scd2
        if opts.tracked_columns is not None:
            return list(opts.tracked_columns)
        managed = {
            opts.valid_from,
            opts.valid_to,
            opts.is_current,
            opts.hash_column,
            opts.deleted_column,
        }
        return [c for c in columns if c not in spec.options.primary_key and c not in managed]

    def check_options(self, options: ModelOptions) -> OptionProblem | None:
        problem = super().check_options(options)
        if problem is not None:
            return problem
        opts = options.scd2
        managed = (opts.valid_from, opts.valid_to, opts.is_current, opts.hash_column)
        if opts.valid_from_column is not None and opts.valid_from_column in managed:
            return OptionProblem(
                f"scd2.valid_from_column '{opts.valid_from_column}' is a column the strategy "
                "writes itself",
                "name the result's own timestamp column (e.g. updated_at), or rename the "
                "strategy's column with scd2.valid_from",
            )
        return None

    def staged_extras(self, spec: ModelSpec, run_ts: dt.datetime) -> list[tuple[str, exp.Expr]]:
        opts: SCD2Options = spec.options.scd2
        # a version is valid from the run's time, or from the row's own timestamp column
        start = (
            timestamp(run_ts)
            if opts.valid_from_column is None
            else exp.cast(col(opts.valid_from_column), "TIMESTAMP")
        )
        extras: list[tuple[str, exp.Expr]] = [
            (opts.valid_from, start),
            (opts.valid_to, exp.cast(exp.null(), "TIMESTAMP")),
            (opts.is_current, exp.true()),
        ]
        if spec.options.delete_mode == "soft_mark":
            extras.append((opts.deleted_column, exp.false()))
        return extras

    def computed_extras(
        self, spec: ModelSpec, columns: Callable[[], list[str]], *, first_write: bool
    ) -> list[tuple[str, exp.Expr]]:
        """The row hash when the staged result becomes the table (later runs hash only the
        rows they write), after checking that ``tracked_columns`` exist in the result."""
        opts = spec.options.scd2
        if not (first_write or opts.tracked_columns or opts.valid_from_column):
            return []
        names = columns()
        missing = [c for c in self.tracked(spec, names) if c not in names]
        if missing:
            raise ModelExecutionError(
                f"scd2.tracked_columns names {missing}, which the result does not have",
                model=spec.name,
                hint=f"result columns: {', '.join(names)}",
            )
        if opts.valid_from_column is not None and opts.valid_from_column not in names:
            raise ModelExecutionError(
                f"scd2.valid_from_column names '{opts.valid_from_column}', which the result "
                "does not have",
                model=spec.name,
                hint=f"result columns: {', '.join(names)}",
            )
        return [self.hash_extra(spec, names)] if first_write else []

    def bookkeeping(self, spec: ModelSpec) -> frozenset[str]:
        return super().bookkeeping(spec) | {spec.options.scd2.hash_column}

    def hash_extra(self, spec: ModelSpec, columns: list[str]) -> tuple[str, exp.Expr]:
        """The hash column, computed over the model's own (tracked) columns."""
        return spec.options.scd2.hash_column, row_hash(self.tracked(spec, columns))

    def steps(self, ctx: PublishContext) -> list[Step]:
        if ctx.target_kind != "table":
            return swap_in(ctx)
        opts = ctx.spec.options.scd2
        keys = ctx.keys
        # an empty batch is staged from the table itself: its hash column is recomputed below
        names = [c for c in ctx.staged_names if c != opts.hash_column]
        mode = ctx.spec.options.delete_mode or self.delete_modes[0]
        diff = diff_table(ctx.spec)
        current = col(opts.is_current, "t")
        is_new = exp.Is(this=col(keys[0], "t"), expression=exp.null())
        tracked = self.tracked(ctx.spec, names)
        # compare the tracked columns directly; only the rows written get a hash
        changed: exp.Expr = any_distinct(tracked, "s", "t") or exp.false()
        if mode == "soft_mark":  # a key coming back after a tombstone is a change
            changed = exp.or_(changed, col(opts.deleted_column, "t"))
        # hashed while the change set is built: a parallel scan, where INSERT ... SELECT with
        # the hash runs several times slower (DuckDB 1.5)
        hashed = exp.alias_(
            row_hash(tracked, "s"), exp.to_identifier(opts.hash_column, quoted=True)
        )
        # one full join finds new, changed and gone keys together
        gone = mode == "soft" and ctx.capabilities.full_join
        if gone:
            current_rows = exp.Subquery(
                this=exp.select(exp.Star()).from_(ctx.target.copy()).where(col(opts.is_current)),
                alias=exp.TableAlias(this=exp.to_identifier("t", quoted=True)),
            )
            is_gone = exp.Is(this=col(keys[0], "s"), expression=exp.null())
            select = (
                exp.select(
                    *[
                        exp.alias_(
                            exp.Coalesce(this=col(c, "s"), expressions=[col(c, "t")]),
                            exp.to_identifier(c, quoted=True),
                        )
                        if c in keys
                        else col(c, "s")
                        for c in names
                    ],
                    hashed,
                    exp.alias_(is_new.copy(), NEW_FLAG),
                    exp.alias_(is_gone.copy(), GONE_FLAG),
                )
                .from_(aliased(ctx.staging, "s"))
                .join(current_rows, join_type="full", on=keys_equal(keys, "s", "t"))
                .where(exp.or_(is_new, is_gone, exp.paren(changed)))
            )
        else:
            select = (
                exp.select(
                    *[col(c, "s") for c in names], hashed, exp.alias_(is_new.copy(), NEW_FLAG)
                )
                .from_(aliased(ctx.staging, "s"))
                .join(
                    aliased(ctx.target, "t"),
                    join_type="left",
                    on=exp.and_(keys_equal(keys, "s", "t"), current),
                )
                .where(exp.or_(is_new, exp.paren(changed)))
            )
        written = exp.select(*[col(c) for c in [*names, opts.hash_column]]).from_(diff.copy())
        if gone:
            written = written.where(exp.not_(col(GONE_FLAG)))
        ts = timestamp(ctx.run_ts)
        close = [
            exp.EQ(this=col(opts.valid_to), expression=ts),
            exp.EQ(this=col(opts.is_current), expression=exp.false()),
        ]
        # a changed key's old version ends where its new one starts (the row's own timestamp
        # with valid_from_column); a gone key's at the run's time
        ends = ts
        if opts.valid_from_column is not None:
            ends = exp.Coalesce(this=col(opts.valid_from, "__m"), expressions=[ts.copy()])
        close_changed = [exp.EQ(this=col(opts.valid_to), expression=ends), close[1].copy()]
        steps = [
            *change_set(diff, select, gone=gone),
            # close the current version of every changed (and, soft, gone) key ...
            Step(
                update_matching(
                    ctx.target,
                    diff,
                    keys,
                    close_changed,
                    exp.and_(current.copy(), exp.not_(col(NEW_FLAG, "__m"))),
                )
            ),
            # ... and open the new versions from the same instant
            Step(st.insert_query(ctx.target, [*names, opts.hash_column], written)),
        ]
        missing = exp.not_(exists_in(ctx.staging, keys, "t"))
        if mode == "soft_mark":
            live = exp.and_(current.copy(), exp.not_(col(opts.deleted_column, "t")), missing)
            tombstone_values = [
                ts
                if c == opts.valid_from
                else exp.cast(exp.null(), "TIMESTAMP")
                if c == opts.valid_to
                else exp.true()
                if c in (opts.is_current, opts.deleted_column)
                else col(c, "t")
                for c in names
            ]
            steps.append(
                Step(
                    st.insert_query(
                        ctx.target,
                        names,
                        exp.select(*tombstone_values).from_(aliased(ctx.target, "t")).where(live),
                    ),
                    ("deleted",),
                )
            )
            tombstoned = exp.and_(current.copy(), exp.not_(col(opts.deleted_column, "t")))
            steps.append(
                Step(
                    update_matching(
                        ctx.target,
                        missing_keys(
                            ctx.target,
                            ctx.staging,
                            keys,
                            exp.and_(
                                col(opts.is_current, "x"), exp.not_(col(opts.deleted_column, "x"))
                            ),
                        ),
                        keys,
                        close,
                        tombstoned,
                    )
                )
            )
        elif mode == "soft" and not gone:  # no full join: close gone keys' versions separately
            steps.append(
                Step(
                    update_matching(
                        ctx.target,
                        missing_keys(ctx.target, ctx.staging, keys, col(opts.is_current, "x")),
                        keys,
                        close,
                        current.copy(),
                    ),
                    ("deleted",),
                )
            )
        steps.append(Step(st.drop(diff)))
        steps.append(Step(st.drop(ctx.staging)))
        return steps
