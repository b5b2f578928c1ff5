"""Prometheus metrics of the alerts of ``interlace serve`` (at ``GET /metrics``):

=====================================  =======  =============================================
name                                   type     labels
=====================================  =======  =============================================
interlace_alerts_sent_total            counter  channel, kind (alert, resolve, test)
interlace_alert_attempts_failed_total  counter  channel, final (true: no retry is left)
interlace_alert_incidents_open         gauge    (open incidents of the environment)
interlace_alert_deliveries_pending     gauge    channel (messages waiting to be sent)
=====================================  =======  =============================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from interlace_service.alerts.service import AlertService
    from interlace_service.metrics import ServiceMetrics


def instrument(alerts: AlertService, metrics: ServiceMetrics) -> None:
    """Count ``alerts``' deliveries in ``metrics`` and read its gauges at each scrape."""
    sent = metrics.counter(
        "interlace_alerts_sent_total", "Alert messages delivered.", ["channel", "kind"]
    )
    failed = metrics.counter(
        "interlace_alert_attempts_failed_total",
        "Failed attempts to deliver an alert message (final: no retry is left).",
        ["channel", "final"],
    )
    open_incidents = metrics.gauge("interlace_alert_incidents_open", "Open alert incidents.")
    pending = metrics.gauge(
        "interlace_alert_deliveries_pending", "Alert messages waiting to be sent.", ["channel"]
    )

    def attempted(channel: str, kind: str, outcome: str) -> None:
        if outcome == "sent":
            sent.labels(channel, kind).inc()
        else:
            failed.labels(channel, "true" if outcome == "failed" else "false").inc()

    def refresh() -> None:
        if alerts.stopped:
            return
        store, env = alerts.store, alerts.env
        open_incidents.set(len(store.incidents(env, "open", 10_000)))
        for channel in alerts.config.channels:
            counts = store.delivery_counts(env, channel)
            pending.labels(channel).set(counts.get("pending", 0) + counts.get("sending", 0))

    alerts.on_attempt.append(attempted)
    metrics.on_scrape(refresh)
