"""`interlace init NAME --from-dbt PATH`: a dbt project laid out like dbt's jaffle shop example
converts into a project that runs, with its tests as passing checks and its snapshots as
scd_type_2 histories; what does not convert is reported with file and line."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Folder


# --- the dbt project: laid out like dbt's public jaffle shop example -----------------------
# Models with ref and source, a Jinja loop over payment methods, a project macro reached
# through adapter.dispatch, a var, seeds with column types, schema tests (one of them on a
# model that the test's target reads), a docs block, two snapshots (timestamp and check
# strategies), a dbt_utils test and a singular test (neither converts: the report lists them).

DBT_PROJECT = """\
name: 'jaffle_shop'
version: '1.0.0'
config-version: 2
profile: 'jaffle_shop'

model-paths: ["models"]
seed-paths: ["seeds"]
test-paths: ["tests"]
macro-paths: ["macros"]
snapshot-paths: ["snapshots"]

vars:
  first_order_date: '2018-01-01'

models:
  jaffle_shop:
    +materialized: table
    staging:
      +materialized: view
      +tags: ['staging']

seeds:
  jaffle_shop:
    +schema: raw
    raw_orders:
      +column_types:
        order_date: date
"""

RAW_CUSTOMERS = """\
id,first_name,last_name
1,Michael,P.
2,Shawn,M.
3,Kathleen,P.
4,Jimmy,C.
5,Katherine,R.
6,Sarah,R.
"""

RAW_ORDERS = """\
id,user_id,order_date,status
1,1,2018-01-01,returned
2,3,2018-01-02,completed
3,1,2018-01-04,completed
4,4,2018-01-05,return_pending
5,5,2018-01-05,shipped
6,3,2018-01-07,placed
7,2,2018-01-09,completed
8,1,2018-01-11,placed
"""

RAW_PAYMENTS = """\
id,order_id,payment_method,amount
1,1,credit_card,1000
2,2,credit_card,2000
3,3,coupon,100
4,4,coupon,2500
5,5,bank_transfer,1700
6,6,credit_card,600
7,7,credit_card,1600
8,8,credit_card,2300
9,8,gift_card,200
"""

SOURCES = """\
version: 2

sources:
  - name: jaffle_raw
    schema: raw
    description: The shop's raw tables (loaded here by seeds).
    tables:
      - name: raw_customers
        columns:
          - name: id
            tests:
              - unique
              - not_null
"""

STG_CUSTOMERS = """\
with source as (

    {#-
    Normally we would select from the table here, but we are using seeds to load
    our data in this project
    #}
    select * from {{ source('jaffle_raw', 'raw_customers') }}

),

renamed as (

    select
        id as customer_id,
        first_name,
        last_name

    from source

)

select * from renamed
"""

STG_ORDERS = """\
with source as (

    select * from {{ ref('raw_orders') }}

),

renamed as (

    select
        id as order_id,
        user_id as customer_id,
        order_date,
        status

    from source
    where order_date >= '{{ var("first_order_date") }}'

)

select * from renamed
"""

STG_PAYMENTS = """\
with source as (

    select * from {{ ref('raw_payments') }}

),

renamed as (

    select
        id as payment_id,
        order_id,
        payment_method,

        -- `amount` is currently stored in cents, so we convert it to dollars
        {{ cents_to_dollars('amount') }} as amount

    from source

)

select * from renamed
"""

CUSTOMERS = """\
with customers as (

    select * from {{ ref('stg_customers') }}

),

orders as (

    select * from {{ ref('stg_orders') }}

),

payments as (

    select * from {{ ref('stg_payments') }}

),

customer_orders as (

        select
        customer_id,

        min(order_date) as first_order,
        max(order_date) as most_recent_order,
        count(order_id) as number_of_orders
    from orders

    group by customer_id

),

customer_payments as (

    select
        orders.customer_id,
        sum(amount) as total_amount

    from payments

    left join orders on
         payments.order_id = orders.order_id

    group by orders.customer_id

),

final as (

    select
        customers.customer_id,
        customers.first_name,
        customers.last_name,
        customer_orders.first_order,
        customer_orders.most_recent_order,
        customer_orders.number_of_orders,
        customer_payments.total_amount as customer_lifetime_value

    from customers

    left join customer_orders
        on customers.customer_id = customer_orders.customer_id

    left join customer_payments
        on  customers.customer_id = customer_payments.customer_id

)

select * from final
"""

ORDERS = """\
{% set payment_methods = ['credit_card', 'coupon', 'bank_transfer', 'gift_card'] %}

with orders as (

    select * from {{ ref('stg_orders') }}

),

payments as (

    select * from {{ ref('stg_payments') }}

),

order_payments as (

    select
        order_id,

        {% for payment_method in payment_methods -%}
        sum(case when payment_method = '{{ payment_method }}' then amount else 0 end) as {{ payment_method }}_amount,
        {% endfor -%}

        sum(amount) as total_amount

    from payments

    group by order_id

),

final as (

    select
        orders.order_id,
        orders.customer_id,
        orders.order_date,
        orders.status,

        {% for payment_method in payment_methods -%}

        order_payments.{{ payment_method }}_amount,

        {% endfor -%}

        order_payments.total_amount as amount

    from orders


    left join order_payments
        on orders.order_id = order_payments.order_id

)

select * from final
"""

SCHEMA = """\
version: 2

models:
  - name: customers
    description: This table has basic information about a customer, as well as some derived facts based on a customer's orders

    columns:
      - name: customer_id
        description: This is a unique identifier for a customer
        tests:
          - unique
          - not_null

      - name: first_name
        description: Customer's first name. PII.

      - name: number_of_orders
        description: Count of the number of orders a customer has placed

  - name: orders
    description: '{{ doc("orders") }}'

    tests:
      - dbt_utils.expression_is_true:
          expression: "amount >= 0"

    columns:
      - name: order_id
        tests:
          - unique
          - not_null
        description: This is a unique identifier for an order

      - name: customer_id
        description: Foreign key to the customers table
        tests:
          - not_null
          - relationships:
              to: ref('customers')
              field: customer_id

      - name: status
        tests:
          - accepted_values:
              values: ['placed', 'shipped', 'completed', 'return_pending', 'returned']

      - name: amount
        tests:
          - not_null
          - dbt_utils.not_constant
"""

STAGING_SCHEMA = """\
version: 2

models:
  - name: stg_customers
    columns:
      - name: customer_id
        tests:
          - unique
          - not_null

  - name: stg_orders
    columns:
      - name: order_id
        tests:
          - unique
          - not_null
      - name: customer_id
        tests:
          - relationships:
              to: ref('customers')
              field: customer_id
      - name: status
        tests:
          - accepted_values:
              values: ['placed', 'shipped', 'completed', 'return_pending', 'returned']
              config:
                severity: warn

  - name: stg_payments
    columns:
      - name: payment_id
        tests:
          - unique
          - not_null
      - name: payment_method
        tests:
          - accepted_values:
              values: ['credit_card', 'coupon', 'bank_transfer', 'gift_card']
"""

SEEDS_SCHEMA = """\
version: 2

seeds:
  - name: raw_payments
    description: Payments, amounts in cents.
    columns:
      - name: id
        tests:
          - unique
          - not_null
"""

DOCS = """\
{% docs orders %}
Orders of the shop, one row per order, with the amount paid by each payment method.
{% enddocs %}
"""

MACRO = """\
{% macro cents_to_dollars(column_name, scale=2) -%}
    {{ return(adapter.dispatch('cents_to_dollars')(column_name, scale)) }}
{%- endmacro %}

{% macro default__cents_to_dollars(column_name, scale) -%}
    ({{ column_name }} / 100)::numeric(16, {{ scale }})
{%- endmacro %}
"""

ORDERS_SNAPSHOT = """\
{% snapshot orders_snapshot %}

{{
    config(
      target_schema='snapshots',
      unique_key='id',
      strategy='timestamp',
      updated_at='updated_at',
      hard_deletes='invalidate',
    )
}}

select id, user_id, status, cast(order_date as timestamp) as updated_at
from {{ ref('raw_orders') }}

{% endsnapshot %}
"""

CUSTOMERS_SNAPSHOT = """\
{% snapshot customers_snapshot %}
{{ config(target_schema='snapshots', unique_key='id', strategy='check',
          check_cols=['first_name', 'last_name'], hard_deletes='new_record') }}
select * from {{ ref('raw_customers') }}
{% endsnapshot %}
"""

SINGULAR_TEST = """\
-- Refunds have a negative total amount, so the total amount should always be >= 0.
select order_id, sum(amount) as total_amount
from {{ ref('orders') }}
group by 1
having not(total_amount >= 0)
"""

FILES = {
    "dbt_project.yml": DBT_PROJECT,
    "seeds/raw_customers.csv": RAW_CUSTOMERS,
    "seeds/raw_orders.csv": RAW_ORDERS,
    "seeds/raw_payments.csv": RAW_PAYMENTS,
    "seeds/schema.yml": SEEDS_SCHEMA,
    "models/sources.yml": SOURCES,
    "models/staging/stg_customers.sql": STG_CUSTOMERS,
    "models/staging/stg_orders.sql": STG_ORDERS,
    "models/staging/stg_payments.sql": STG_PAYMENTS,
    "models/staging/schema.yml": STAGING_SCHEMA,
    "models/customers.sql": CUSTOMERS,
    "models/orders.sql": ORDERS,
    "models/schema.yml": SCHEMA,
    "models/docs.md": DOCS,
    "macros/cents_to_dollars.sql": MACRO,
    "snapshots/orders_snapshot.sql": ORDERS_SNAPSHOT,
    "snapshots/customers_snapshot.sql": CUSTOMERS_SNAPSHOT,
    "tests/assert_total_payment_amount_is_positive.sql": SINGULAR_TEST,
}


def write_jaffle_shop(root: Path) -> Path:
    """Write the dbt project into ``root`` (created); returns it."""
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def shop(folder: Folder) -> Folder:
    """The jaffle shop converted into `shop/` with the real command."""
    write_jaffle_shop(folder.root / "jaffle")
    converted = folder.interlace("init", "shop", "--from-dbt", "jaffle")
    assert converted.code == 0, converted
    assert (
        "Converted the dbt project 'jaffle_shop' into shop: 5 model(s), 3 seed(s), "
        "2 snapshot(s)" in converted.stdout
    ), converted
    assert "Next: cd shop && interlace run" in converted.stdout
    return folder.sub("shop")


def test_the_converted_jaffle_shop_runs_and_its_checks_pass(shop: Folder) -> None:
    result = shop.interlace("run")

    assert result.code == 0, result
    assert "Done in" in result.stdout
    assert "✗" not in result.stdout and "!" not in result.stdout, result
    assert "✓ relationships(customer_id -> customers.customer_id)" in result.stdout
    # stg_orders' relationships test points at customers, which reads stg_orders: it audits
    assert "audit stg_orders  ✓ relationships(customer_id -> customers.customer_id)" in (
        result.stdout
    )
    relations = shop.relations()
    assert relations["raw.raw_orders"] == "table"  # seeds, in the schema dbt_project.yml gave
    assert relations["main.stg_orders"] == "view"  # staging: +materialized: view
    assert relations["main.customers"] == "table"
    assert relations["snapshots.orders_snapshot"] == "table"
    customers = {row["customer_id"]: row for row in shop.rows("customers")}
    assert customers[1]["number_of_orders"] == 3
    assert customers[1]["customer_lifetime_value"] == Decimal("36.00")  # the macro's cents
    assert customers[6]["number_of_orders"] is None
    order = shop.rows("orders", order_by="order_id")[7]
    assert (order["credit_card_amount"], order["gift_card_amount"], order["amount"]) == (
        Decimal("23.00"),
        Decimal("2.00"),
        Decimal("25.00"),
    )
    assert shop.columns("raw_orders", schema="raw")["order_date"] == "DATE"  # column_types

    checked = shop.interlace("run", "--quality-only")
    assert checked.code == 0, checked


def test_the_report_lists_exactly_what_was_not_converted_with_file_and_line(
    shop: Folder,
) -> None:
    report = (shop.root / "CONVERSION.md").read_text(encoding="utf-8")
    not_constant = SCHEMA.splitlines().index("          - dbt_utils.not_constant") + 1
    assert (
        f"- `models/schema.yml:{not_constant}`: model 'orders': test `dbt_utils.not_constant` "
        "has no Interlace check"
    ) in report
    assert "- `tests/assert_total_payment_amount_is_positive.sql:1`: singular test" in report
    assert "dbt_utils.expression_is_true" not in report  # converted to an expression check
    converted = (shop.root / "models/orders.sql").read_text(encoding="utf-8")
    assert "-- @description: Orders of the shop, one row per order" in converted  # doc()
    assert "--   - {expression: amount >= 0}" in converted
    assert "{{" not in converted and "{%" not in converted
    assert "sum(case when payment_method = 'gift_card' then amount else 0 end)" in converted
    staging = (shop.root / "models/staging/stg_customers.sql").read_text(encoding="utf-8")
    assert "select * from raw.raw_customers" in staging  # source() -> the seed's table
    config = (shop.root / "config.yaml").read_text(encoding="utf-8")
    assert "default_materialize: table" in config


def test_snapshots_keep_dbts_histories(shop: Folder) -> None:
    assert shop.interlace("run").code == 0
    seeds = shop.root / "seeds"
    orders = (seeds / "raw_orders.csv").read_text(encoding="utf-8")
    # order 6 is shipped on the 12th; order 2 disappears; customer 2 is renamed, 6 deleted
    orders = orders.replace("6,3,2018-01-07,placed", "6,3,2018-01-12,shipped")
    (seeds / "raw_orders.csv").write_text(orders.replace("2,3,2018-01-02,completed\n", ""))
    customers = (seeds / "raw_customers.csv").read_text(encoding="utf-8")
    customers = customers.replace("2,Shawn,M.", "2,Sean,M.").replace("6,Sarah,R.\n", "")
    (seeds / "raw_customers.csv").write_text(customers)

    again = shop.interlace("run")

    assert again.code == 0, again
    history = shop.query(
        "select id, status, dbt_valid_from, dbt_valid_to from snapshots.orders_snapshot "
        "where id in (2, 6) order by id, dbt_valid_from"
    )
    day = dt.datetime
    assert [
        (r["id"], r["status"], r["dbt_valid_from"], r["dbt_valid_to"]) for r in history[1:]
    ] == [
        (6, "placed", day(2018, 1, 7), day(2018, 1, 12)),  # timestamp strategy: updated_at
        (6, "shipped", day(2018, 1, 12), None),
    ]
    assert history[0]["id"] == 2 and history[0]["dbt_valid_to"] is not None  # invalidate
    people = shop.query(
        "select id, first_name, dbt_is_deleted, is_current from snapshots.customers_snapshot "
        "where id in (2, 6) order by id, dbt_valid_from"
    )
    assert [(p["id"], p["first_name"], p["dbt_is_deleted"], p["is_current"]) for p in people] == [
        (2, "Shawn", False, False),
        (2, "Sean", False, True),
        (6, "Sarah", False, False),
        (6, "Sarah", True, True),  # new_record: a current deletion record
    ]


def test_converting_into_a_folder_that_is_not_empty_is_refused(folder: Folder) -> None:
    write_jaffle_shop(folder.root / "jaffle")
    folder.write({"shop/notes.txt": "mine"})
    refused = folder.interlace("init", "shop", "--from-dbt", "jaffle")
    assert refused.code != 0
    assert "already exists and is not empty" in refused.output
    assert not refused.has_traceback


def test_a_folder_without_dbt_project_yml_is_refused(folder: Folder) -> None:
    folder.write({"notdbt/models/a.sql": "select 1"})
    refused = folder.interlace("init", "shop", "--from-dbt", "notdbt")
    assert refused.code != 0
    assert "is not a dbt project: it has no dbt_project.yml" in refused.output
    assert not (folder.root / "shop").exists()
