"""Raw shipment events from the carriers, streamed in Arrow batches.

A generator that yields ``pyarrow.RecordBatch`` objects is written batch by batch, so a feed
much larger than memory would work the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
from interlace import model

N_ORDERS = 100_000
BATCH_SIZE = 10_000

# carrier, share of parcels, mean transit days
CARRIERS = [("PostNL", 0.35, 1.6), ("DHL", 0.30, 2.2), ("UPS", 0.20, 2.8), ("DPD", 0.15, 2.4)]


@model(schema="raw", tags=["raw"])
def shipments() -> Iterator[pa.RecordBatch]:
    """One shipping label per order; the feed also holds labels of orders later cancelled."""
    rng = np.random.default_rng(4)
    names = np.array([c[0] for c in CARRIERS])
    shares = np.array([c[1] for c in CARRIERS])
    transit = np.array([c[2] for c in CARRIERS])
    for start in range(1, N_ORDERS + 1, BATCH_SIZE):
        n = min(BATCH_SIZE, N_ORDERS + 1 - start)
        carrier = rng.choice(len(CARRIERS), n, p=shares)
        yield pa.RecordBatch.from_pydict(
            {
                "order_id": pa.array(np.arange(start, start + n), pa.int64()),
                "carrier": pa.array(names[carrier]),
                "label_after_hours": pa.array(rng.integers(1, 49, n), pa.int32()),
                "transit_days": pa.array(
                    np.maximum(1, rng.poisson(transit[carrier])).astype(np.int32), pa.int32()
                ),
                "delivered": pa.array(rng.random(n) < 0.985),
            }
        )
