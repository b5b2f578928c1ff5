"""The REST API under ``/api/v1``: one router per resource (see :func:`core_routers`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from interlace_http.routing import Router


def core_routers() -> list[Router]:
    """The service's own routers, in the order the OpenAPI document lists their tags."""
    from interlace_service.api.alerts import router as alerts
    from interlace_service.api.dead_letters import router as dead_letters
    from interlace_service.api.events import router as events
    from interlace_service.api.graph import router as graph
    from interlace_service.api.health import router as health
    from interlace_service.api.lineage import router as lineage
    from interlace_service.api.metrics import router as metrics
    from interlace_service.api.models import router as models
    from interlace_service.api.quality import router as quality
    from interlace_service.api.runs import router as runs
    from interlace_service.api.scheduler import router as scheduler

    return [
        health,
        models,
        graph,
        lineage,
        runs,
        events,
        quality,
        dead_letters,
        scheduler,
        metrics,
        alerts,
    ]
