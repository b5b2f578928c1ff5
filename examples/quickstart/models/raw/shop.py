"""Raw data of a made-up online shop, generated deterministically.

Root models (no upstream) that stand in for an extraction step. Every column is built with
vectorised numpy and handed to Interlace as Arrow, so 100,000 orders take milliseconds. Each
model seeds its own generator: the same code always produces the same rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from interlace import model

N_CUSTOMERS = 5_000
N_PRODUCTS = 200
N_ORDERS = 100_000

# code, name, region, currency, share of customers
COUNTRIES = [
    ("NL", "Netherlands", "Europe", "EUR", 0.22),
    ("DE", "Germany", "Europe", "EUR", 0.18),
    ("BE", "Belgium", "Europe", "EUR", 0.08),
    ("FR", "France", "Europe", "EUR", 0.10),
    ("ES", "Spain", "Europe", "EUR", 0.06),
    ("GB", "United Kingdom", "Europe", "GBP", 0.09),
    ("US", "United States", "North America", "USD", 0.15),
    ("CA", "Canada", "North America", "CAD", 0.05),
    ("AU", "Australia", "Oceania", "AUD", 0.04),
    ("JP", "Japan", "Asia", "JPY", 0.03),
]

# fmt: off
FIRST_NAMES = ["Anna", "Bram", "Chloe", "Daan", "Emma", "Finn", "Greta", "Hugo", "Iris", "Jonas",
               "Kim", "Lars", "Mila", "Noah", "Olivia", "Pieter", "Quinn", "Ruth", "Sam", "Tess"]
LAST_NAMES = ["Bakker", "Jansen", "Smit", "Meyer", "Martin", "Garcia", "Smith", "Brown", "Tanaka",
              "Dubois", "Rossi", "Visser", "Wilson", "Novak", "Berg", "Costa"]
CATEGORIES = ["Books", "Games", "Kitchen", "Garden", "Toys", "Audio", "Sports", "Office"]
ADJECTIVES = ["Classic", "Compact", "Deluxe", "Eco", "Mini", "Pro", "Smart", "Ultra", "Vintage",
              "Wireless"]
NOUNS = ["Lamp", "Kettle", "Speaker", "Puzzle", "Notebook", "Backpack", "Planter", "Racket",
         "Headset", "Mug", "Chair", "Cushion", "Cookbook", "Drone", "Tent", "Watch", "Blender",
         "Blanket", "Desk", "Scooter"]
# fmt: on


# a static reference list: build it once, then only when forced (`interlace run --force`)
@model(schema="raw", tags=["raw"], cache={"strategy": "if_exists"})
def countries():
    """Countries the shop sells to (a small reference list, yielded as dict rows)."""
    for code, name, region, currency, _share in COUNTRIES:
        yield {"country_code": code, "country_name": name, "region": region, "currency": currency}


@model(schema="raw", tags=["raw"])
def customers() -> pa.Table:
    """Registered customers: one row per customer, as a pyarrow Table."""
    rng = np.random.default_rng(1)
    ids = np.arange(1, N_CUSTOMERS + 1)
    first = np.array(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), N_CUSTOMERS)]
    last = np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), N_CUSTOMERS)]
    shares = np.array([c[4] for c in COUNTRIES])
    country = np.array([c[0] for c in COUNTRIES])[
        rng.choice(len(COUNTRIES), N_CUSTOMERS, p=shares / shares.sum())
    ]
    signup_days = rng.integers(0, 730, N_CUSTOMERS)  # 2022-01-01 .. 2023-12-31
    signed_up_on = np.datetime64("2022-01-01") + signup_days.astype("timedelta64[D]")
    email = np.char.add(
        np.char.add(np.char.add(np.char.lower(first), "."), np.char.lower(last)),
        np.char.add(ids.astype(str), "@example.com"),
    )
    return pa.table(
        {
            "customer_id": pa.array(ids, pa.int64()),
            "first_name": pa.array(first),
            # the source system stores some last names in capitals; staging cleans them up
            "last_name": pa.array(
                np.where(rng.random(N_CUSTOMERS) < 0.2, np.char.upper(last), last)
            ),
            "email": pa.array(email),
            "country_code": pa.array(country),
            "signed_up_on": pa.array(signed_up_on.astype("datetime64[D]"), pa.date32()),
            "is_business": pa.array(rng.random(N_CUSTOMERS) < 0.1),
        }
    )


@model(schema="raw", tags=["raw"])
def products() -> dict[str, np.ndarray]:
    """The product catalogue, returned as a dict of columns (numpy arrays)."""
    rng = np.random.default_rng(2)
    ids = np.arange(1, N_PRODUCTS + 1)
    names = [
        f"{ADJECTIVES[i % len(ADJECTIVES)]} {NOUNS[(i * 7) % len(NOUNS)]} {i:03d}" for i in ids
    ]
    return {
        "product_id": ids,
        "sku": np.char.add("SKU-", np.char.zfill(ids.astype(str), 5)),
        "product_name": np.array(names),
        "category": np.array(CATEGORIES)[rng.integers(0, len(CATEGORIES), N_PRODUCTS)],
        # prices in cents, like many source systems store them
        "price_cents": np.round(rng.lognormal(mean=3.3, sigma=0.6, size=N_PRODUCTS) * 100)
        .astype(np.int64)
        .clip(199, 49_999),
    }


@model(schema="raw", tags=["raw"])
def orders() -> pa.Table:
    """Orders placed in 2024: one product per order line, 100,000 rows as a pyarrow Table."""
    rng = np.random.default_rng(3)
    n = N_ORDERS
    # a few loyal customers order a lot, most order a handful of times
    customer_weight = rng.gamma(shape=0.8, size=N_CUSTOMERS)
    product_weight = rng.pareto(a=1.5, size=N_PRODUCTS) + 0.05
    seconds = np.sort(rng.integers(0, 366 * 24 * 3600, n))  # 2024 is a leap year
    return pa.table(
        {
            "order_id": pa.array(np.arange(1, n + 1), pa.int64()),
            "customer_id": pa.array(
                rng.choice(N_CUSTOMERS, n, p=customer_weight / customer_weight.sum()) + 1,
                pa.int64(),
            ),
            "product_id": pa.array(
                rng.choice(N_PRODUCTS, n, p=product_weight / product_weight.sum()) + 1,
                pa.int64(),
            ),
            "quantity": pa.array(rng.choice([1, 2, 3, 4, 5], n, p=[0.55, 0.25, 0.1, 0.06, 0.04])),
            "discount_pct": pa.array(rng.choice([0, 5, 10, 20], n, p=[0.7, 0.15, 0.1, 0.05])),
            # channel codes as the source system stores them: W(eb), A(pp), S(tore)
            "channel": pa.array(np.array(["W", "A", "S"])[rng.choice(3, n, p=[0.55, 0.3, 0.15])]),
            "status": pa.array(
                np.array(["COMPLETED", "CANCELLED", "RETURNED"])[
                    rng.choice(3, n, p=[0.9, 0.04, 0.06])
                ]
            ),
            "ordered_at": pa.array(
                np.datetime64("2024-01-01T00:00:00") + seconds.astype("timedelta64[s]"),
                pa.timestamp("s"),
            ),
        }
    )
