"""Alerts for runs outside a server: ``interlace run``, ``interlace.run()`` from Python,
``interlace check``.

:func:`attach` is a ``run_listeners`` hook (``interlace.hooks``): every
:class:`~interlace.run_session.RunSession` of a project with active ``alerts:`` gets an
:class:`~interlace_service.alerts.service.AlertService` that hears the run's events on its
bus. When the session closes, the models' SLAs are checked and the run waits at most
``alerts.delivery.wait`` seconds for the messages; a channel that is down never fails the run
(what is not delivered stays queued in the state store and is retried by the next run or
server). In a process that runs ``interlace serve`` for the project, the server's alerts read
the run's events from the state store instead.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from interlace.errors import first_line

if TYPE_CHECKING:
    from collections.abc import Callable

    from interlace.events import Event
    from interlace.run_session import RunSession

log = logging.getLogger("interlace.alerts")


def attach(session: RunSession) -> Callable[[], None] | None:
    """Start the run's alerts (``None``: the project has none, or a server here has them)."""
    project = session.project
    if project.loaded.sections.get("alerts") is None:  # most projects: nothing to import
        return None
    from interlace_service.alerts.service import AlertService, alerts_config, server_alerts

    config = alerts_config(project)
    if config is None or not config.active or server_alerts(project) is not None:
        return None
    alerts = AlertService(project)
    try:
        alerts.start()
    except Exception as exc:
        log.warning("alerts are off for this run: %s", first_line(exc))
        alerts.stop()
        return None

    def hear(event: Event) -> None:
        alerts.submit(event.to_dict())

    unsubscribe = session.bus.subscribe(hear)

    def detach() -> None:
        unsubscribe()
        alerts.request_sla_check()
        try:
            if not alerts.flush(config.delivery.wait):
                waiting = alerts.undelivered()
                log.warning(
                    "alerts: %d message(s) not delivered within %g s (%s); they stay queued "
                    "and are retried by the next run or `interlace serve`",
                    len(waiting),
                    config.delivery.wait,
                    "; ".join(
                        f"{d.channel}: {d.last_error or 'not tried yet'}" for d in waiting[:3]
                    ),
                )
        finally:
            alerts.stop()

    return detach
