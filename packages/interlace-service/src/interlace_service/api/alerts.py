"""``GET /api/v1/alerts``: open incidents, recent deliveries and the health of each channel."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from interlace_http.routing import Router
from pydantic import BaseModel, Field

from interlace_service.api.common import blocking
from interlace_service.schemas import Query, when
from interlace_service.service import service_of

if TYPE_CHECKING:
    from aiohttp import web

    from interlace_service.service import Service

router = Router("/api/v1", tags=["alerts"])


class AlertsQuery(Query):
    incidents: Literal["open", "resolved", "all"] = Field(
        default="open", description="Which incidents to list"
    )
    limit: int = Field(default=50, ge=1, le=500, description="Incidents and deliveries, each")


class ChannelOut(BaseModel):
    name: str
    type: Literal["webhook", "slack", "email"]
    target: str = Field(description="Where it sends (URL paths hidden: they are often secret)")
    status: Literal["ok", "failing", "unknown"] = Field(
        description="ok: its last attempt delivered; failing: its last attempt failed; "
        "unknown: never used"
    )
    last_attempt_at: dt.datetime | None
    last_sent_at: dt.datetime | None
    last_error: str | None
    sent: int
    pending: int
    failed: int


class IncidentOut(BaseModel):
    id: int
    rule: str
    event: str
    subject: str
    status: Literal["open", "resolved"]
    summary: str
    details: dict[str, Any]
    opened_at: dt.datetime | None
    last_seen_at: dt.datetime | None
    occurrences: int
    resolved_at: dt.datetime | None = None
    resolution: str | None = None


class DeliveryOut(BaseModel):
    id: int
    incident_id: int | None
    channel: str
    kind: Literal["alert", "resolve", "test"]
    status: Literal["pending", "sending", "sent", "failed"]
    attempts: int
    created_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    next_attempt_at: dt.datetime | None
    sent_at: dt.datetime | None
    last_error: str | None


class AlertsOut(BaseModel):
    enabled: bool = Field(description="Whether the project has active alert rules")
    channels: list[ChannelOut]
    incidents: list[IncidentOut] = Field(description="Newest first")
    deliveries: list[DeliveryOut] = Field(description="Newest first")


@router.get("/alerts", query=AlertsQuery, response=AlertsOut)
async def get_alerts(request: web.Request, query: AlertsQuery) -> AlertsOut:
    """Alert incidents (open by default), the latest deliveries and each channel's health."""
    return await blocking(request, _alerts, service_of(request), query)


def _alerts(service: Service, query: AlertsQuery) -> AlertsOut:
    from interlace_service.alerts.service import AlertService, alerts_config

    config = alerts_config(service.project)
    alerts = AlertService(service.project, store=service.store)
    store = alerts.store
    status = None if query.incidents == "all" else query.incidents
    incidents = store.incidents(service.env, status, query.limit)
    deliveries = store.deliveries(service.env, limit=query.limit)
    channels = [
        ChannelOut(
            name=health.name,
            type=health.type,
            target=health.target,
            status=health.status,
            last_attempt_at=when(health.last_attempt_at),
            last_sent_at=when(health.last_sent_at),
            last_error=health.last_error,
            sent=health.counts.get("sent", 0),
            pending=health.counts.get("pending", 0) + health.counts.get("sending", 0),
            failed=health.counts.get("failed", 0),
        )
        for health in alerts.channel_health()
    ]
    return AlertsOut(
        enabled=bool(config and config.active),
        channels=channels,
        incidents=[
            IncidentOut(
                id=i.id,
                rule=i.rule,
                event=i.event,
                subject=i.subject,
                status=i.status,
                summary=i.summary,
                details=i.details,
                opened_at=when(i.opened_at),
                last_seen_at=when(i.last_seen_at),
                occurrences=i.occurrences,
                resolved_at=when(i.resolved_at),
                resolution=i.resolution,
            )
            for i in incidents
        ],
        deliveries=[
            DeliveryOut(
                id=d.id,
                incident_id=d.incident_id,
                channel=d.channel,
                kind=d.kind,
                status=d.status,
                attempts=d.attempts,
                created_at=when(d.created_at),
                last_attempt_at=when(d.last_attempt_at),
                next_attempt_at=when(d.next_attempt_at) if d.status == "pending" else None,
                sent_at=when(d.sent_at),
                last_error=d.last_error,
            )
            for d in deliveries
        ],
    )
