"""``GET /metrics``: the server's Prometheus metrics (see :mod:`interlace_service.metrics`).

Like every route it needs an API key (scope ``read``) unless its path is listed in
``service.auth.public_paths`` (add ``/metrics`` there for a scraper without credentials).
"""

from __future__ import annotations

from aiohttp import web
from interlace_http.routing import Router
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from interlace_service.service import service_of

router = Router("", tags=["service"])


@router.get("/metrics", content_type="text/plain", scope="read", operation_id="metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus metrics: runs, models, checks, the run queue, circuit breakers, HTTP latency
    by route and event-stream clients (text exposition format)."""
    service = service_of(request)
    body = await service.io(service.metrics.render)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
