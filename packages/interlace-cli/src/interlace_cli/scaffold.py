"""`interlace init`: a small project whose example models run as created."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from interlace.errors import ProjectError

if TYPE_CHECKING:
    from pathlib import Path

CONFIG = """\
# Interlace project configuration. `interlace config` prints the merged result.
name: {name}

connections:
  default:
    type: duckdb
    path: data/{{env}}.duckdb   # one database file per environment

models:
  default_schema: main
  default_materialize: table
  default_strategy: replace

executor:
  max_workers: 4
"""

CONFIG_PROD = """\
# Overlay for `--env prod`: deep-merged over config.yaml.
executor:
  max_workers: 8
"""

RAW_MODEL = '''\
"""Source data. A root Python model may return Arrow, pandas/polars, dict rows, or ibis."""

import random

import pyarrow as pa

from interlace import model


@model(
    schema="raw",
    tags=["raw"],
    # error checks run before the table is replaced: bad data never reaches it
    quality_checks=[{"not_null": ["customer_id", "name"]}, {"unique": "customer_id"}],
)
def customers():
    """Customers of the shop."""
    return pa.table({
        "customer_id": list(range(1, 51)),
        "name": [f"customer {i}" for i in range(1, 51)],
        "country": [("NL", "DE", "FR", "US")[i % 4] for i in range(1, 51)],
    })


@model(schema="raw", tags=["raw"])
def orders():
    """Orders, yielded row by row (streamed in bounded memory)."""
    rng = random.Random(42)
    for order_id in range(1, 1001):
        yield {
            "order_id": order_id,
            "customer_id": rng.randint(1, 50),
            "amount": round(rng.uniform(5, 500), 2),
            "status": rng.choice(["paid", "paid", "paid", "refunded"]),
        }
'''

STAGING_SQL = """\
-- @name: stg_orders
-- @materialize: view
-- @description: Paid orders only.
select order_id, customer_id, amount
from raw.orders
where status = 'paid'
"""

MART_MODEL = '''\
"""A Python model on its upstreams: parameters named like models arrive as lazy ibis tables."""

from interlace import model


@model(schema="marts", tags=["marts"])
def revenue_by_country(stg_orders, customers):
    """Revenue per country, computed inside DuckDB."""
    joined = stg_orders.join(customers, "customer_id")
    return joined.group_by("country").agg(
        orders=joined.order_id.count(),
        revenue=joined.amount.sum().round(2),
    )
'''

MART_SQL = """\
-- @name: top_customers
-- @schema: marts
-- @tags: [marts]
-- @quality_checks: [{row_count: {min: 1}}, {type: range, column: spent, min: 0, severity: warn}]
select c.name, count(*) as orders, round(sum(o.amount), 2) as spent
from stg_orders o
join customers c using (customer_id)
group by c.name
order by spent desc
limit 10
"""

GITIGNORE = """\
data/
.interlace/
.env
"""

README = """\
# {name}

An [Interlace](https://pypi.org/project/interlace-cli/) project.

    interlace run            # build every model
    interlace run +top_customers
    interlace info           # connections and models
"""


def create_project(target: Path, *, force: bool = False) -> list[Path]:
    """Write the example project into ``target``; returns the files written.

    ``target`` may be ``.`` (the project takes the current folder's name).
    """
    name = target.resolve().name
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
        raise ProjectError(
            f"invalid project name {name!r}",
            hint="use letters, digits, '_' or '-', starting with a letter",
        )
    if target.exists() and not target.is_dir():
        raise ProjectError(
            f"{target} is a file, not a folder",
            hint="choose another name, or move the file away",
        )
    if target.exists() and any(target.iterdir()) and not force:
        raise ProjectError(
            f"{target} already exists and is not empty",
            hint="choose another name, or pass --force to write into it",
        )
    files = {
        "config.yaml": CONFIG.format(name=name),
        "config.prod.yaml": CONFIG_PROD,
        "models/raw.py": RAW_MODEL,
        "models/staging.sql": STAGING_SQL,
        "models/marts.py": MART_MODEL,
        "models/marts.sql": MART_SQL,
        ".gitignore": GITIGNORE,
        "README.md": README.format(name=name),
    }
    written = []
    for rel, content in files.items():
        path = target / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        except OSError as exc:
            raise ProjectError(
                f"cannot write {path}: {exc.strerror}",
                hint="check that the folder is writable (or choose another place)",
            ) from None
        written.append(path)
    return written
