"""Model tests of the quickstart. Run them with `interlace test` from this project's folder.

Each unit test runs one model in a private in-memory DuckDB against a few hand-written upstream
rows (`interlace.testing.test_model_sync`); the last test builds the whole project end to end on
a fresh copy (the `run_project` fixture of the Interlace pytest plugin).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import interlace
import pytest
from interlace.testing import mock_dependency, test_model_sync

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quickstart() -> interlace.Project:
    """The quickstart project, loaded once: tests pick its models by name."""
    return interlace.load_project(PROJECT)


def order(order_id: int, channel: str, status: str, **extra: object) -> dict[str, object]:
    """One raw order row as the shop's source system stores it."""
    return {
        "order_id": order_id,
        "customer_id": 1,
        "product_id": 1,
        "quantity": 2,
        "discount_pct": 10,
        "channel": channel,
        "status": status,
        "ordered_at": dt.datetime(2024, 3, 1, 9, 30),
        **extra,
    }


def test_stg_orders_decodes_channel_and_status_codes():
    raw_orders = [order(1, "W", "COMPLETED"), order(2, "A", "CANCELLED"), order(3, "S", "RETURNED")]

    result = test_model_sync(
        PROJECT / "models/staging/stg_orders.sql", deps={"raw.orders": raw_orders}
    )

    assert result.status == "success", result.error
    assert [(r["channel"], r["status"]) for r in result.rows] == [
        ("web", "completed"),
        ("app", "cancelled"),
        ("store", "returned"),
    ]
    assert {r["order_date"] for r in result.rows} == {dt.date(2024, 3, 1)}
    assert {r["discount_rate"] for r in result.rows} == {Decimal("0.10")}


def test_stg_products_turns_cents_into_prices():
    products = mock_dependency(
        {
            "product_id": [1, 2],
            "sku": ["SKU-00001", "SKU-00002"],
            "product_name": ["Eco Lamp 001", "Pro Mug 002"],
            "category": ["Kitchen", "Office"],
            "price_cents": [1999, 250],
        },
        schema="raw",
    )

    result = test_model_sync(
        PROJECT / "models/staging/reference.sql", deps={"products": products}, name="stg_products"
    )

    assert result.status == "success", result.error
    assert [r["unit_price"] for r in result.rows] == [Decimal("19.99"), Decimal("2.50")]


def test_orders_enriched_drops_the_carrier_of_cancelled_orders(quickstart):
    lines = [
        {
            "order_id": order_id,
            "customer_id": 7,
            "product_id": 1,
            "category": "Books",
            "channel": "web",
            "status": status,
            "ordered_at": dt.datetime(2024, 5, 1, 12),
            "order_date": dt.date(2024, 5, 1),
            "quantity": 1,
            "gross_amount": Decimal("10.00"),
            "discount_amount": Decimal("0.00"),
            "net_amount": Decimal("10.00"),
        }
        for order_id, status in [(1, "completed"), (2, "cancelled")]
    ]
    customers = [{"customer_id": 7, "customer_type": "consumer", "country_code": "NL"}]
    countries = [{"country_code": "NL", "region": "Europe"}]
    shipments = [
        {
            "order_id": order_id,
            "carrier": "DHL",
            "shipped_at": dt.datetime(2024, 5, 2, 8),
            "delivered_at": dt.datetime(2024, 5, 4, 8),
            "transit_days": 2,
        }
        for order_id in (1, 2)
    ]

    result = test_model_sync(
        "orders_enriched",
        project=quickstart,
        deps={
            "int_order_lines": lines,
            "stg_customers": customers,
            "stg_countries": countries,
            "stg_shipments": shipments,
        },
    )

    assert result.status == "success", result.error
    by_order = {r["order_id"]: r for r in result.rows}
    assert by_order[1]["carrier"] == "DHL"
    assert by_order[1]["region"] == "Europe"
    assert by_order[2]["carrier"] is None
    assert by_order[2]["transit_days"] is None


def test_the_whole_project_builds(run_project):
    run = run_project(PROJECT)

    assert run.result.success, [(m.name, m.error) for m in run.result.failed]
    assert run.count("daily_revenue") == 366  # every day of 2024
    assert run.count("pipeline_runs") == 1
    assert run.query("select count(*) as n from raw.orders") == [{"n": 100_000}]
    # the page_views stream has no events without a server: its readers build on zero rows
    assert run.count("product_views") == 0


def test_product_views_counts_views_and_sessions_per_product():
    views = [
        {"product_id": 7, "session_id": session, "viewed_at": dt.datetime(2024, 6, 1, 9, minute)}
        for minute, session in enumerate(["s1", "s1", "s2"])
    ] + [{"product_id": 42, "session_id": "s3", "viewed_at": dt.datetime(2024, 6, 1, 10)}]
    products = [
        {"product_id": 7, "product_name": "Eco Lamp 007", "category": "Kitchen"},
        {"product_id": 42, "product_name": "Pro Mug 042", "category": "Office"},
    ]

    result = test_model_sync(
        PROJECT / "models/marts/product_views.sql",
        deps={"stg_page_views": views, "stg_products": products},
    )

    assert result.status == "success", result.error
    assert [(r["product_id"], r["views"], r["sessions"]) for r in result.rows] == [
        (7, 3, 2),
        (42, 1, 1),
    ]
    assert result.rows[0]["last_viewed_at"] == dt.datetime(2024, 6, 1, 9, 2)
