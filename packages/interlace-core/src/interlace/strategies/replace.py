"""`replace`: the staged result becomes the table (swap by rename inside one transaction)."""

from __future__ import annotations

from sqlglot import exp

from interlace import statements as st
from interlace.strategies.base import PublishContext, Step, Strategy


def swap_in(ctx: PublishContext) -> list[Step]:
    """Drop the old relation and rename the staged table into its place; where DDL commits at
    once (``publish: rename_swap``), swap the two names in one statement and drop the old
    table after (its name starts like a staging table's: a run killed in between leaves it to
    the next run's clean-up)."""
    out: list[Step] = []
    caps = ctx.capabilities
    if caps.publish == "rename_swap" and caps.rename_table and ctx.target_kind == "table":
        retired = f"{ctx.staging.name}_old"
        return [
            Step(st.rename_swap(ctx.target, ctx.staging, retired, ctx.dialect)),
            Step(
                st.drop(
                    exp.table_(
                        exp.to_identifier(retired, quoted=True), db=ctx.target.args.get("db")
                    )
                )
            ),
        ]
    if ctx.target_kind is not None:
        out.append(Step(st.drop(ctx.target, "VIEW" if ctx.target_kind == "view" else "TABLE")))
    if ctx.capabilities.rename_table:
        out.append(Step(st.rename(ctx.staging, ctx.target_name)))
    else:
        out.append(Step(st.create_table_as(ctx.target, st.select_all(ctx.staging))))
        out.append(Step(st.drop(ctx.staging)))
    return out


class Replace(Strategy):
    name = "replace"
    incremental = False

    def steps(self, ctx: PublishContext) -> list[Step]:
        return swap_in(ctx)
