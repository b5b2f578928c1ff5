"""``interlace alerts test [CHANNEL]``: send a test message through the project's channels
(:mod:`interlace_service.alerts`).

Light on purpose (the CLI imports it to list its commands): the alerts load when it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from interlace_service.commands import _seconds, _where, env_option, project_option


@click.group("alerts")
def alerts() -> None:
    """Alert channels and incidents (config: the `alerts:` section)."""


@alerts.command("test")
@click.argument("channel", required=False)
@click.option(
    "--timeout",
    default="30s",
    show_default=True,
    help="How long to wait for delivery (retries included).",
)
@project_option
@env_option
@click.pass_context
def test(
    ctx: click.Context,
    channel: str | None,
    timeout: str,
    project: Path | None,
    env: str | None,
) -> None:
    """Send a test message to CHANNEL (default: every configured channel) and say whether it
    arrived. Exits 1 when a channel could not be reached."""
    from interlace.errors import InterlaceError
    from interlace.project import load_project

    from interlace_service.alerts.service import AlertService

    root, env_name = _where(ctx, project, env)
    wait = _seconds(timeout, "--timeout")
    try:
        loaded = load_project(root, env=env_name)
        service = AlertService(loaded)
        ids = service.queue_test(channel)
        service.start()
    except InterlaceError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    try:
        service.flush(wait)
        deliveries = {d.id: d for d in service.store.deliveries(loaded.env, ids=ids)}
    finally:
        service.stop()
    config = service.config
    failed = 0
    for delivery_id in ids:
        delivery = deliveries[delivery_id]
        target = config.channels[delivery.channel]
        where = f"{delivery.channel} ({target.type}, {target.target()})"
        if delivery.status == "sent":
            click.secho(f"sent     {where}", fg="green")
            continue
        failed += 1
        tries = f"{delivery.attempts} attempt(s)"
        if delivery.status == "failed":
            click.secho(f"failed   {where} after {tries}: {delivery.last_error}", fg="red")
        else:
            click.secho(
                f"not sent {where} within {wait:g} s ({tries}"
                + (f", last error: {delivery.last_error}" if delivery.last_error else "")
                + "); it stays queued and is retried by `interlace serve` or the next run",
                fg="yellow",
            )
    sys.exit(1 if failed else 0)
