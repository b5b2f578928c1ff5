"""Events: the shop's web site reports each product page a visitor opens.

A stream is an append-only table that Interlace fills as events arrive (over HTTP, from Python,
or from an adapter); it is never built by a run. While `interlace serve` runs, publish to it
with `POST /api/v1/streams/page_views` (see the README): a moment later the models that read it
run by themselves. A plain `interlace run` builds them on the events stored so far (none at
first: zero rows).
"""

from __future__ import annotations

from interlace_stream import stream

page_views = stream(
    "page_views",
    schema="raw",
    fields={"product_id": "int64", "session_id": "string", "referrer": "string"},
    # the site's browsers publish without an API key (only these fields are accepted)
    auth={"public": True},
    rate_limit="200/s",
    tags=["streams"],
    description="Product pages opened on the web site (one event per page view).",
)
