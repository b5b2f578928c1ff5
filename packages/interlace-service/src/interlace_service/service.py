"""What one ``interlace serve`` process holds: the project (reloadable), its state store, the
run worker and the event feed. Handlers reach it as ``request.app[SERVICE]``.

Example::

    service = Service.load("path/to/project", env="prod", options=ServiceOptions())
    service.start()            # the run worker takes queued requests from now on
    ...
    service.stop()             # drains: see RunWorker.drain
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web
from interlace.opening import open_state
from interlace.project import load_project

from interlace_service.options import ServiceOptions

if TYPE_CHECKING:
    from collections.abc import Callable

    from interlace.project import Project
    from interlace.state.base import StateStore

    from interlace_service.alerts.service import AlertService
    from interlace_service.events_feed import EventFeed
    from interlace_service.metrics import ServiceMetrics
    from interlace_service.runner import RunWorker
    from interlace_service.scheduler.serving import ServiceScheduler

log = logging.getLogger("interlace.service")
T = TypeVar("T")

# what --reload watches: model and function files and the config files
WATCHED = ("models", "functions")
WATCHED_SUFFIXES = (".py", ".sql", ".yaml", ".yml")


class Service:
    """See the module docstring."""

    def __init__(self, project: Project, *, options: ServiceOptions | None = None) -> None:
        from interlace.run_session import BreakerRegistry

        from interlace_service.events_feed import EventFeed
        from interlace_service.metrics import service_metrics
        from interlace_service.runner import RunWorker

        self.project = project
        self.root = project.root
        self.env = project.env
        self.options = options or ServiceOptions()
        self.load_error: str | None = None  # the last --reload that failed, until one works
        self.started_at = time.time()
        self.breakers = BreakerRegistry()
        self.store: StateStore = open_state(project)
        self.worker: RunWorker = RunWorker(self)
        self.feed: EventFeed = EventFeed(self)
        self.metrics: ServiceMetrics = service_metrics(self)
        self.scheduler: ServiceScheduler | None = None  # started by start() unless --no-scheduler
        self.alerts: AlertService | None = None  # started by start() when alerts are configured
        self._files = snapshot(self.root)
        self._reload_lock = threading.Lock()
        self._reload_listeners: list[Callable[[Project], None]] = []

    @classmethod
    def load(
        cls, root: str | Path, *, env: str | None = None, options: ServiceOptions | None = None
    ) -> Service:
        """Load the project at ``root`` (a load error is raised: a server needs a project)."""
        return cls(load_project(Path(root), env=env), options=options)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self.options.scheduler and self.scheduler is None:
            from interlace_service.scheduler.serving import ServiceScheduler

            scheduler = ServiceScheduler(self)
            scheduler.start()  # refused (SchedulerBusy) before anything else starts
            self.scheduler = scheduler
        if self.alerts is None:
            from interlace_service.alerts.service import serve_alerts

            try:  # a rule naming no model is an error here
                self.alerts = serve_alerts(lambda: self.project, self.metrics)
            except BaseException:
                if self.scheduler is not None:
                    self.scheduler.close()
                    self.scheduler = None
                raise
        self.worker.start()

    def stop(self, grace: float | None = None) -> None:
        """Stop taking runs, let running ones finish within ``grace`` seconds (then cancel
        them), release what the server holds and close the state store."""
        if self.scheduler is not None:
            self.scheduler.close()
            self.scheduler = None
        self.worker.drain(self.options.grace if grace is None else grace)
        if self.alerts is not None:
            self.alerts.stop()
            self.alerts = None
        self.store.close()

    # ------------------------------------------------------------------ reloading

    def reload_if_changed(self) -> bool:
        """Load the project again when a watched file changed; True when it did. A project
        that no longer loads keeps the old one serving and says why in ``load_error``."""
        with self._reload_lock:
            files = snapshot(self.root)
            if files == self._files:
                return False
            self._files = files
            try:
                project = load_project(self.root, env=self.env)
            except Exception as exc:  # an InterlaceError, or an import error of a model file
                self.load_error = str(exc)
                log.error("reload failed, still serving the previous project: %s", exc)
                return False
            self.project = project
            self.load_error = None
            log.info("reloaded the project (%d models)", len(project.models))
            for listener in list(self._reload_listeners):
                try:
                    listener(project)
                except Exception:  # one extension's failure must not stop the reload
                    log.exception("a reload listener failed")
            return True

    def on_reload(self, callback: Callable[[Project], None]) -> None:
        """Call ``callback(project)`` after each reload that loaded a changed project (on the
        thread that reloaded: the run worker's, or a request's). Extensions that run inside the
        server (``service_extensions()`` hooks, e.g. stream ingestion) follow changes this way."""
        self._reload_listeners.append(callback)

    # ------------------------------------------------------------------ helpers for handlers

    async def io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking call (the state store) off the event loop."""
        return await asyncio.to_thread(fn, *args, **kwargs)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Modification time and size of each file ``--reload`` watches."""
    found: dict[str, tuple[int, int]] = {}
    for entry in root.iterdir():
        config = entry.name.startswith(("config", "interlace")) and entry.suffix in (
            ".yaml",
            ".yml",
        )
        if entry.is_file() and (config or entry.name == ".env"):
            stat = entry.stat()
            found[entry.name] = (stat.st_mtime_ns, stat.st_size)
    for folder in WATCHED:
        base = root / folder
        if not base.is_dir():
            continue
        for directory, dirs, files in os.walk(base):
            dirs[:] = [d for d in dirs if not d.startswith((".", "__pycache__"))]
            for name in files:
                if name.endswith(WATCHED_SUFFIXES):
                    path = Path(directory) / name
                    try:
                        stat = path.stat()
                    except FileNotFoundError:  # removed while we looked
                        continue
                    found[str(path.relative_to(root))] = (stat.st_mtime_ns, stat.st_size)
    return found


SERVICE = web.AppKey("interlace_service.service", Service)


def service_of(request: web.Request) -> Service:
    return request.app[SERVICE]
