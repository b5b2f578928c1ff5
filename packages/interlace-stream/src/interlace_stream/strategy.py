"""``merge_stream_with_source``: a table that starts from a source table and takes a stream's
events on top, by key; the latest event of a key wins over the source row.

The model's query returns the source's rows (``_stream_offset`` NULL) and the stream's new
events (with their offset) together; with ``cursor="_stream_offset"`` each run reads only the
events it has not seen. Per key the staged row with the highest offset is kept (a source row
only when the key has no event), and it replaces the table's row when it is newer: an event
replaces an older event or a source row; a source row replaces only a source row (a changed
source flows in, but never over an event). Example (``models/products.sql``)::

    -- @strategy: merge_stream_with_source
    -- @primary_key: id
    -- @cursor: _stream_offset
    SELECT id, name, price, NULL::BIGINT AS _stream_offset FROM catalog_products
    UNION ALL
    SELECT id, name, price, _stream_offset FROM product_updates   -- a stream
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace import statements as st
from interlace.strategies.base import (
    OptionProblem,
    PublishContext,
    Step,
    Strategy,
    aliased,
    col,
    delete_matching,
    keys_equal,
)
from interlace.strategies.merge_by_key import any_distinct
from interlace.strategies.replace import swap_in
from sqlglot import exp

from interlace_stream.declaration import OFFSET_COLUMN

if TYPE_CHECKING:
    from interlace.spec import ModelOptions, ModelSpec


def _offset(options: ModelOptions) -> str:
    return options.cursor.column if options.cursor is not None else OFFSET_COLUMN


def _newer_event(left: str, right: str, offset: str) -> exp.Expr:
    """``left`` is an event newer than ``right`` (an older event or a source row)."""
    left_off, right_off = col(offset, left), col(offset, right)
    left_event = exp.not_(exp.Is(this=left_off, expression=exp.null()))
    right_source = exp.Is(this=right_off, expression=exp.null())
    return exp.and_(
        left_event, exp.paren(exp.or_(right_source, exp.GT(this=left_off, expression=right_off)))
    )


def _newer(left: str, right: str, offset: str, compared: list[str]) -> exp.Expr:
    """``left`` (staged) replaces ``right`` (the table's): a newer event, or a changed source
    row over a source row."""
    both_source = exp.and_(
        exp.Is(this=col(offset, left), expression=exp.null()),
        exp.Is(this=col(offset, right), expression=exp.null()),
    )
    changed = any_distinct(compared, left, right)
    if changed is not None:
        both_source = exp.and_(both_source, exp.paren(changed))
    return exp.or_(_newer_event(left, right, offset), both_source)


class MergeStreamWithSource(Strategy):
    """See the module docstring."""

    name = "merge_stream_with_source"
    needs_keys = True
    requires = ("joined_dml",)

    def keyed(self, spec: ModelSpec) -> bool:
        return False  # a key has its source row and its events in one batch: deduped here

    def check_options(self, options: ModelOptions) -> OptionProblem | None:
        problem = super().check_options(options)
        if problem is not None:
            return problem
        if options.cursor is None:
            return OptionProblem(
                "strategy 'merge_stream_with_source' reads only new events of its stream",
                f"add cursor='{OFFSET_COLUMN}' (the stream's offset column)",
            )
        return None

    def steps(self, ctx: PublishContext) -> list[Step]:
        offset = _offset(ctx.spec.options)
        if offset not in ctx.staged_names:
            from interlace.errors import ModelExecutionError

            raise ModelExecutionError(
                f"strategy 'merge_stream_with_source' needs the column '{offset}' in the "
                "result (NULL for source rows, the event's offset for stream rows)",
                model=ctx.spec.name,
                hint=f"select {offset} from the stream and NULL AS {offset} from the source",
            )
        keys = ctx.keys
        # keep one staged row per key: the newest event, else the source row
        loser = exp.Delete(
            this=aliased(ctx.staging, "t"),
            using=[aliased(ctx.staging, "__s")],
            where=exp.Where(
                this=exp.and_(
                    keys_equal(keys, "__s", "t"), exp.paren(_newer_event("__s", "t", offset))
                )
            ),
        )
        steps = [Step(loser)]
        if ctx.target_kind != "table":
            return steps + swap_in(ctx)
        names = ctx.staged_names
        steps.append(
            Step(
                delete_matching(
                    ctx.target,
                    ctx.staging,
                    keys,
                    _newer("__s", "t", offset, [c for c in names if c not in keys and c != offset]),
                ),
                ("updated",),
            )
        )
        absent = exp.not_(
            exp.Exists(
                this=exp.select(exp.Literal.number(1))
                .from_(aliased(ctx.target, "t"))
                .where(keys_equal(keys, "t", "s"))
            )
        )
        new_rows = (
            exp.select(*[col(c, "s") for c in names]).from_(aliased(ctx.staging, "s")).where(absent)
        )
        steps.append(Step(st.insert_query(ctx.target, names, new_rows), ("written",)))
        steps.append(Step(st.drop(ctx.staging)))
        return steps

    def finish_stats(self, stats: dict[str, int]) -> dict[str, int]:
        if "written" in stats:
            stats = dict(stats)
            written = stats.pop("written")
            stats["inserted"] = written - stats.get("updated", 0)
        return stats
