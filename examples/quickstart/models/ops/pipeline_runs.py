"""An append-only log: one row per run, so the table grows by one row each time you run."""

from __future__ import annotations

import ibis
from interlace import model


@model(schema="ops", strategy="append", tags=["ops"])
def pipeline_runs(daily_revenue, context):
    """A row per run: run id, environment, days covered and total net revenue of daily_revenue."""
    return daily_revenue.aggregate(
        days=daily_revenue.count(),
        first_day=daily_revenue.order_date.min(),
        last_day=daily_revenue.order_date.max(),
        net_revenue=daily_revenue.net_revenue.sum(),
    ).mutate(
        run_id=ibis.literal(context.run_id),
        env=ibis.literal(context.env),
        recorded_at=ibis.now(),
    )
