"""Sending one message to one channel: a signed webhook, a Slack incoming webhook, SMTP.

Each send either returns (delivered) or raises :class:`DeliveryError` saying why, for the
delivery's record and the retry. HTTP channels count any 2xx answer as delivered.

Webhook requests carry::

    Content-Type: application/json
    X-Interlace-Event: alert.opened | alert.resolved | alert.test
    X-Interlace-Delivery: 42                      (the same on every retry of one message)
    X-Interlace-Timestamp: 1764950400             (Unix seconds when this attempt was made)
    X-Interlace-Signature: sha256=<hex>           (with a secret: HMAC-SHA256 of
                                                   "<timestamp>.<body>")

A receiver recomputes the signature with the shared secret and rejects a request whose
timestamp is too old (a replay): see :func:`verify`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import smtplib
import ssl
import time
from typing import TYPE_CHECKING, Any

from interlace_service.alerts.messages import email_message, slack_payload

if TYPE_CHECKING:
    import aiohttp

    from interlace_service.alerts.config import (
        EmailChannel,
        SlackChannel,
        WebhookChannel,
    )

USER_AGENT = "Interlace-Alerts/1"


class DeliveryError(Exception):
    """A message was not delivered (the reason is the message)."""


def body_of(message: dict[str, Any]) -> bytes:
    """The webhook body: the message as compact JSON with sorted keys."""
    return json.dumps(message, sort_keys=True, separators=(",", ":"), default=str).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Interlace-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of
    ``<timestamp>.<body>`` under ``secret``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is at most
    ``tolerance`` seconds away from ``now``. Example::

        ok = verify(secret, await request.read(), request.headers["X-Interlace-Timestamp"],
                    request.headers["X-Interlace-Signature"])
    """
    try:
        age = abs((time.time() if now is None else now) - float(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


async def send_webhook(
    http: aiohttp.ClientSession,
    channel: WebhookChannel,
    message: dict[str, Any],
    delivery_id: int,
    timeout: float,
) -> None:
    body = body_of(message)
    timestamp = str(int(time.time()))
    headers = {
        **channel.headers,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Interlace-Event": str(message["type"]),
        "X-Interlace-Delivery": str(delivery_id),
        "X-Interlace-Timestamp": timestamp,
    }
    if channel.secret is not None:
        headers["X-Interlace-Signature"] = sign(channel.secret.get_secret_value(), timestamp, body)
    await _post(http, channel.url, body, headers, timeout)


async def send_slack(
    http: aiohttp.ClientSession,
    channel: SlackChannel,
    message: dict[str, Any],
    delivery_id: int,
    timeout: float,
) -> None:
    body = json.dumps(slack_payload(message)).encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    await _post(http, channel.url, body, headers, timeout)


async def _post(
    http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> None:
    import aiohttp

    try:
        async with http.post(
            url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            if 200 <= response.status < 300:
                return
            text = (await response.text(errors="replace"))[:200].strip()
            raise DeliveryError(f"HTTP {response.status}" + (f": {text}" if text else ""))
    except TimeoutError:
        raise DeliveryError(f"no answer within {timeout:g} s") from None
    except aiohttp.ClientError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None


async def send_email(channel: EmailChannel, message: dict[str, Any], timeout: float) -> None:
    await asyncio.to_thread(_smtp_send, channel, message, timeout)


def _smtp_send(channel: EmailChannel, message: dict[str, Any], timeout: float) -> None:
    mail = email_message(message, channel)
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if channel.ssl:
            smtp = smtplib.SMTP_SSL(
                channel.host, channel.smtp_port, timeout=timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(channel.host, channel.smtp_port, timeout=timeout)
        with smtp:
            if channel.starttls:
                smtp.starttls(context=context)
            if channel.username is not None and channel.password is not None:
                smtp.login(channel.username, channel.password.get_secret_value())
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP {channel.host}:{channel.smtp_port}: {exc}") from None
