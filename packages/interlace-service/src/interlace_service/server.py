"""Running ``interlace serve``: bind, announce, serve until SIGTERM or Ctrl-C, drain, exit 0.

Stopping (SIGTERM or SIGINT): the server stops listening and stops taking runs, running runs
get ``options.grace`` seconds to finish and are cancelled after it (a second signal cancels
them at once), the leases it holds are released, the discovery file and the local CLI key go.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
import time
from typing import TYPE_CHECKING

from aiohttp import web

from interlace_service.app import create_app
from interlace_service.discovery import (
    LOCAL_KEY_TTL,
    ServerInfo,
    remove_discovery,
    write_discovery,
)
from interlace_service.service import Service

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from interlace_http.settings import SecuritySettings

    from interlace_service.options import ServiceOptions

log = logging.getLogger("interlace.service")


def security_settings(service: Service) -> SecuritySettings:
    """The ``service:`` section of the project's config (authentication is on by default)."""
    from interlace_http.settings import SecuritySettings

    section = service.project.loaded.sections.get("service")  # validated at load (hooks)
    return section if isinstance(section, SecuritySettings) else SecuritySettings()


def serve(
    root: Path,
    *,
    env: str | None,
    options: ServiceOptions,
    echo: Callable[[str], None] = print,
) -> int:
    """Serve the project at ``root`` until stopped; the exit code (0 after a clean drain)."""
    service = Service.load(root, env=env, options=options)
    try:
        security = security_settings(service)
    except Exception:
        service.store.close()
        raise
    return asyncio.run(_serve(service, security, echo))


class _LocalKey:
    """The API key of this machine's command line (see :mod:`interlace_service.discovery`)."""

    def __init__(self, service: Service, url: str) -> None:
        self.service = service
        self.url = url
        self.key_id: str | None = None
        self.made_at = 0.0

    def renew(self) -> None:
        from interlace.errors import InterlaceError
        from interlace_http.apikeys import create_api_key

        previous = self.key_id
        token: str | None = None
        try:
            created = create_api_key(
                self.service.store,
                f"serve-local-cli-{os.getpid()}-{secrets.token_hex(3)}",
                ["execute"],
                expires_in=LOCAL_KEY_TTL,
            )
            token, self.key_id = created.token, created.key.id
        except InterlaceError as exc:  # a state store that keeps no keys: auth cannot be on
            log.warning("no API key for the local command line: %s", exc)
            self.key_id = None
        self.made_at = time.monotonic()
        write_discovery(
            self.service.root,
            ServerInfo(
                url=self.url,
                pid=os.getpid(),
                host=socket.gethostname(),
                env=self.service.env,
                project=self.service.project.name,
                token=token,
                key_id=self.key_id,
                started_at=self.service.started_at,
            ),
        )
        if previous is not None:
            self._revoke(previous)

    def due(self) -> bool:
        return time.monotonic() - self.made_at >= LOCAL_KEY_TTL / 2

    def close(self) -> None:
        remove_discovery(self.service.root, self.service.env, os.getpid())
        if self.key_id is not None:
            self._revoke(self.key_id)
            self.key_id = None

    def _revoke(self, key_id: str) -> None:
        from interlace_http.apikeys import key_store

        try:
            key_store(self.service.store).revoke_api_key(key_id, time.time())
        except Exception as exc:  # it expires by itself
            log.warning("could not revoke the local CLI key %s: %s", key_id, exc)


async def _serve(service: Service, security: SecuritySettings, echo: Callable[[str], None]) -> int:
    from interlace_http.auth import startup_notice

    options = service.options
    notice = startup_notice(security, service.store)  # before the local key exists
    app = create_app(service, security=security)
    # access lines come from interlace_service.logs (with the request id and route)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5.0, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, options.host, options.port)
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise SystemExit(f"error: cannot listen on {options.host}:{options.port}: {exc}") from None
    port = int(runner.addresses[0][1])
    shown = "127.0.0.1" if options.host in ("0.0.0.0", "::", "") else options.host
    url = f"http://{shown}:{port}"
    local = _LocalKey(service, url)
    await asyncio.to_thread(local.renew)
    project = service.project
    echo(f"interlace serve: project {project.name} [{service.env}], {len(project.models)} models")
    echo(f"  API      {url}/api/v1   (docs: {url}/api/docs)")
    if options.ui:
        from interlace_service.ui import ui_folder

        if ui_folder() is not None:
            echo(f"  web UI   {url}/   (sign in with an API key: `interlace apikey create NAME`)")
    echo(f"  runs     up to {options.concurrency} at once; `interlace run` here submits to it")
    if service.scheduler is not None:
        count = len(service.scheduler.scheduler.schedules)
        echo(f"  schedule {count} schedule(s) fired here (`interlace schedule list`)")
    elif options.scheduler is False:
        echo("  schedule off (--no-scheduler)")
    if options.reload:
        echo("  reload   on: model and config changes are picked up")
    if notice is not None:
        echo(f"  {notice.level}: {notice.message}")
    echo("Stop with Ctrl-C or SIGTERM (running runs finish first).")

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)

    def first_signal() -> None:
        stopping.set()
        for number in signals:  # a second signal cancels the running runs at once
            loop.add_signal_handler(number, hurry)

    def hurry() -> None:
        echo("second signal: cancelling the running runs")
        for request_id in service.worker.running():
            service.worker.cancel_local(request_id)

    for number in signals:
        loop.add_signal_handler(number, first_signal)
    try:
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), timeout=60)
            except TimeoutError:
                if local.due():
                    await asyncio.to_thread(local.renew)
        running = len(service.worker.running())
        echo(
            "stopping: no new runs"
            + (f"; {running} running get up to {options.grace:g} s to finish" if running else "")
        )
        await asyncio.to_thread(local.close)
        await runner.cleanup()  # stops listening, ends event streams, drains the runs
    finally:
        for number in signals:
            loop.remove_signal_handler(number)
    echo("stopped")
    return 0
