"""Alerts: run failures, failed error checks, missed or late schedules and freshness SLA
breaches, sent to webhooks (HMAC-signed), Slack and e-mail; one message per incident and one
when it clears. See docs/alerts.md.

- :mod:`~interlace_service.alerts.config`: the ``alerts:`` section of config.yaml;
- :mod:`~interlace_service.alerts.rules`: which events open and resolve which incidents (pure);
- :mod:`~interlace_service.alerts.messages` and :mod:`~interlace_service.alerts.channels`:
  what is sent and how;
- :mod:`~interlace_service.alerts.service`: :class:`AlertService`, the background sender;
- :mod:`~interlace_service.alerts.listener`: alerts of runs outside a server;
- :mod:`~interlace_service.alerts.testing`: a local HTTP receiver and SMTP server for tests.

``GET /api/v1/alerts`` is :mod:`interlace_service.api.alerts`; ``interlace alerts test`` is
:mod:`interlace_service.alerts_cli`.
"""
