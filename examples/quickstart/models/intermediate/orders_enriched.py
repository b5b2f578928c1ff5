"""A Python model written with ibis.

Each parameter named like a model receives that model as a lazy ibis table. The function builds
an ibis expression and returns it; Interlace compiles it to SQL and runs it inside DuckDB, so no
rows are pulled into Python.
"""

from __future__ import annotations

import ibis
from interlace import model


@model(schema="intermediate", tags=["intermediate"])
def orders_enriched(int_order_lines, stg_customers, stg_countries, stg_shipments):
    """One row per order with its customer, region and delivery facts."""
    customers = stg_customers.join(stg_countries, "country_code").select(
        "customer_id", "customer_type", "country_code", "region"
    )
    shipments = stg_shipments.select(
        "order_id", "carrier", "shipped_at", "delivered_at", "transit_days"
    )
    lines = int_order_lines.join(customers, "customer_id")
    enriched = lines.left_join(shipments, lines.order_id == shipments.order_id)
    shipped = lines.status != "cancelled"
    return enriched.select(
        lines.order_id,
        lines.customer_id,
        lines.product_id,
        lines.category,
        lines.channel,
        lines.status,
        lines.ordered_at,
        lines.order_date,
        lines.quantity,
        lines.gross_amount,
        lines.discount_amount,
        lines.net_amount,
        lines.customer_type,
        lines.country_code,
        lines.region,
        # a cancelled order never ships, even when the carrier printed a label for it
        carrier=ibis.ifelse(shipped, shipments.carrier, ibis.null()),
        shipped_at=ibis.ifelse(shipped, shipments.shipped_at, ibis.null()),
        delivered_at=ibis.ifelse(shipped, shipments.delivered_at, ibis.null()),
        transit_days=ibis.ifelse(shipped, shipments.transit_days, ibis.null()),
    )
