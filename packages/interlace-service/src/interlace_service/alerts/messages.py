"""The messages alerts send: one JSON message per incident change, and how each channel type
shows it (the webhook's JSON body, Slack's blocks, an e-mail).

A message is built once, when its delivery is queued, and stored with it: every retry sends the
same body (a receiver can de-duplicate by ``X-Interlace-Delivery``).

Example of a webhook body::

    {"type": "alert.opened", "project": "shop", "env": "prod",
     "title": "FIRING run_failed: orders", "text": "model orders failed: ...",
     "incident": {"id": 7, "rule": "failures", "event": "run_failed", "subject": "orders",
                  "status": "open", "opened_at": "2026-12-05T16:00:00+00:00", ...}}
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interlace.state.alert_state import DeliveryKind, Incident

    from interlace_service.alerts.config import EmailChannel

TYPES: dict[str, str] = {"alert": "alert.opened", "resolve": "alert.resolved", "test": "alert.test"}


def iso(at: float | None) -> str | None:
    if at is None:
        return None
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds")


def incident_message(
    incident: Incident, kind: DeliveryKind, *, project: str, env: str
) -> dict[str, Any]:
    """The message announcing that ``incident`` opened (``alert``) or cleared (``resolve``)."""
    if kind == "resolve":
        title = f"RESOLVED {incident.event}: {incident.subject}"
        text = incident.resolution or "resolved"
    else:
        title = f"FIRING {incident.event}: {incident.subject}"
        text = incident.summary
    return {
        "type": TYPES[kind],
        "project": project,
        "env": env,
        "title": title,
        "text": text,
        "incident": {
            "id": incident.id,
            "rule": incident.rule,
            "event": incident.event,
            "subject": incident.subject,
            "status": incident.status,
            "summary": incident.summary,
            "details": incident.details,
            "opened_at": iso(incident.opened_at),
            "resolved_at": iso(incident.resolved_at),
            "resolution": incident.resolution,
            "occurrences": incident.occurrences,
        },
    }


def test_message(channel: str, *, project: str, env: str) -> dict[str, Any]:
    """What ``interlace alerts test`` sends."""
    return {
        "type": TYPES["test"],
        "project": project,
        "env": env,
        "title": f"Test message to channel {channel}",
        "text": f"Interlace can reach the alert channel '{channel}' of project {project} [{env}].",
        "incident": None,
    }


def slack_payload(message: dict[str, Any]) -> dict[str, Any]:
    """The Slack incoming-webhook payload: ``text`` (notifications, fallbacks) and blocks."""
    icon = {"alert.opened": ":red_circle:", "alert.resolved": ":large_green_circle:"}.get(
        str(message["type"]), ":information_source:"
    )
    context = f"*{message['project']}* · {message['env']}"
    incident = message.get("incident")
    if incident:
        context += f" · rule `{incident['rule']}` · incident #{incident['id']}"
    return {
        "text": f"{message['title']}: {message['text']}",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": str(message["title"])[:150]},
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"{icon} {message['text']}"[:3000]},
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }


def email_message(message: dict[str, Any], channel: EmailChannel) -> EmailMessage:
    """The e-mail: ``[Interlace shop/prod] FIRING run_failed: orders`` and a plain text body."""
    mail = EmailMessage()
    mail["Subject"] = f"[Interlace {message['project']}/{message['env']}] {message['title']}"
    mail["From"] = channel.from_
    mail["To"] = ", ".join(channel.to)
    lines = [str(message["text"]), ""]
    incident = message.get("incident")
    if incident:
        lines += [
            f"Rule:        {incident['rule']}",
            f"Event:       {incident['event']}",
            f"Subject:     {incident['subject']}",
            f"Opened:      {incident['opened_at']}",
        ]
        if incident.get("resolved_at"):
            lines.append(f"Resolved:    {incident['resolved_at']}")
        for key, value in sorted((incident.get("details") or {}).items()):
            lines.append(f"{key + ':':<12} {value}")
    lines += ["", f"Project {message['project']}, environment {message['env']}."]
    mail.set_content("\n".join(lines))
    return mail
