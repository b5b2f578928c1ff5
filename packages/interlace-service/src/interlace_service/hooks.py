"""The ``interlace.hooks`` entry point of interlace-service: ``interlace serve`` and
``interlace state prune``, the ``service:`` and ``telemetry:`` config sections, and the run
listener that traces runs (of the CLI too) with OpenTelemetry.

Imported whenever the CLI lists its commands, so it imports only click (the commands import
aiohttp and the service when they run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click


def cli_commands() -> list[click.Command]:
    from interlace_service.alerts_cli import alerts
    from interlace_service.commands import serve, state
    from interlace_service.schedule_commands import schedule

    return [serve, state, schedule, alerts]


def config_sections() -> dict[str, Any]:
    """The ``service:`` section of config.yaml: authentication, sessions, rate limits and CORS
    (:class:`interlace_http.settings.SecuritySettings`), and ``telemetry:`` (where traces go,
    :class:`interlace_service.telemetry.TelemetrySettings`), validated when the project loads."""
    from interlace_http.settings import SecuritySettings

    from interlace_service.alerts.config import AlertsConfig
    from interlace_service.scheduler.definitions import SchedulesSection
    from interlace_service.telemetry import TelemetrySettings

    return {
        "service": SecuritySettings,
        "telemetry": TelemetrySettings,
        "schedules": SchedulesSection,  # named schedules (interlace_service.scheduler)
        "alerts": AlertsConfig,  # channels and rules (interlace_service.alerts)
    }


def run_listeners() -> list[Any]:
    """Trace every run whose project's ``telemetry.tracing.exporter`` is not ``none``
    (opentelemetry is imported only then)."""
    from interlace_service.alerts.listener import attach as alert_runs
    from interlace_service.telemetry import attach

    return [attach, alert_runs]  # alerts: runs outside a server (interlace_service.alerts)
