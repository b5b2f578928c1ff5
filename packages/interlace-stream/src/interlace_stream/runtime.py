"""Everything ingestion runs in one process: the publisher (durable logs), the committer, the
trigger of readers' runs, a run worker (standalone only) and the configured adapters.

One entry point for every host: the standalone server (``interlace-stream serve``), ``interlace
stream run`` and ``interlace serve`` (which calls :func:`attach`). Example::

    runtime = StreamRuntime(load_project("."))
    await runtime.start()
    await runtime.publisher.publish("orders", [{"id": 1}])
    await runtime.stop()
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from interlace_stream.kind import project_streams
from interlace_stream.settings import AdaptersSection, StreamingSettings

if TYPE_CHECKING:
    from interlace.events import StreamBatchCommitted
    from interlace.project import Project
    from interlace.state.base import StateStore

    from interlace_stream.committer import Committer
    from interlace_stream.kind import StreamInfo
    from interlace_stream.publisher import Publisher
    from interlace_stream.trigger import LocalRunWorker, Trigger

log = logging.getLogger("interlace.stream")

# runtimes running in this process, by project folder: `publish()` uses theirs
ACTIVE: dict[Path, StreamRuntime] = {}


def streaming_settings(project: Project) -> StreamingSettings:
    """The project's ``streaming:`` section (defaults when it has none)."""
    found = project.loaded.sections.get("streaming")
    return found if isinstance(found, StreamingSettings) else StreamingSettings()


def adapter_configs(project: Project, streams: dict[str, StreamInfo]) -> list[dict[str, Any]]:
    """The ``adapters:`` list plus each stream's own ``adapters`` (their ``stream`` filled in)."""
    raw: list[dict[str, Any]] = []
    section = project.loaded.sections.get("adapters")
    if isinstance(section, AdaptersSection):
        raw.extend(dict(item) for item in section.root)
    for info in streams.values():
        for index, item in enumerate(info.settings.adapters):
            entry = {"stream": info.name, **item}
            entry.setdefault("name", f"{info.name}_{item.get('type', 'adapter')}_{index}")
            raw.append(entry)
    return raw


class StreamRuntime:
    """See the module docstring. ``execute_runs``: run the queued runs of stream readers in
    this process (off inside ``interlace serve``, whose run worker does it)."""

    def __init__(
        self,
        project: Project,
        *,
        store: StateStore | None = None,
        execute_runs: bool = True,
        adapters: bool = True,
        settings: StreamingSettings | None = None,
    ) -> None:
        from interlace_stream.publisher import Publisher

        self.project = project
        self.settings = settings or streaming_settings(project)
        self.streams = project_streams(project)
        self._own_store = store is None
        self._store = store
        self.execute_runs = execute_runs
        s = self.settings
        self.publisher: Publisher = Publisher(
            self.streams,
            s.log_path(project.root),
            dedup_window=s.dedup_window,
            dedup_max_ids=s.dedup_max_ids,
            segment_bytes=s.segment_bytes,
            max_pending_bytes=s.max_pending_bytes,
        )
        self.adapters: list[Any] = []
        if adapters:
            raw = adapter_configs(project, self.streams)
            if raw:
                from interlace_stream.adapters import build_adapters

                self.adapters = build_adapters(
                    raw, project_dir=project.root, project=project, file="config.yaml"
                )
        self.committer: Committer | None = None
        self.trigger: Trigger | None = None
        self.worker: LocalRunWorker | None = None
        self._adapter_tasks: list[asyncio.Task[None]] = []
        self._stop_adapters = asyncio.Event()
        self.listeners: list[Any] = []  # called with each StreamBatchCommitted (any thread)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closing = asyncio.Event()  # the server is stopping: event streams end
        self.extras: dict[str, Any] = {}  # per-runtime state of the routes (rate buckets)
        self.started = False

    @property
    def store(self) -> StateStore:
        if self._store is None:
            from interlace.opening import open_state

            self._store = open_state(self.project)
        return self._store

    async def start(self) -> None:
        """Open the logs (recovering them), commit what a previous process left, start the
        committer, the trigger, the run worker and the adapters."""
        # import here what worker threads use: an import compiles, and CPython 3.11's compiler
        # is not safe to enter from two threads at once (SystemError: AST constructor ...)
        import interlace.api
        import interlace.opening  # noqa: F401
        import pyarrow.json  # noqa: F401

        import interlace_stream.consumers
        import interlace_stream.quarantine  # noqa: F401
        from interlace_stream.committer import Committer
        from interlace_stream.trigger import LocalRunWorker, Trigger

        self.loop = asyncio.get_running_loop()
        await self.publisher.start()
        store = await asyncio.to_thread(lambda: self.store)
        self.trigger = Trigger(self.project, store, debounce=self.settings.trigger_debounce)
        await self.trigger.start()
        self.committer = Committer(
            self.project,
            self.publisher,
            interval=self.settings.commit_interval,
            batch_rows=self.settings.commit_batch_rows,
            on_commit=self._committed,
        )
        await self.committer.start()
        if self.execute_runs:
            self.worker = LocalRunWorker(self.project, store)
            await self.worker.start()
        for adapter in self.adapters:
            self._adapter_tasks.append(
                asyncio.create_task(self._run_adapter(adapter), name=f"adapter-{adapter.name}")
            )
        self.started = True
        ACTIVE[self.project.root.resolve()] = self

    async def _run_adapter(self, adapter: Any) -> None:
        # an adapter retries its broker itself; one that still fails must not stop the server
        try:
            await adapter.run(self.publisher, self._stop_adapters)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("adapter '%s' stopped with an error", adapter.name)

    def _committed(self, event: StreamBatchCommitted) -> None:
        if self.trigger is not None and event.rows:
            self.trigger.notify(event.stream)
        try:  # into the store's event history: `GET /api/v1/events` streams it as stream.*
            import json

            payload = json.dumps(event.to_dict(), default=str)
            self.store.add_event(self.project.env, event.run_id, event.type, event.at, payload)
        except Exception as exc:
            log.warning("the state store did not keep a %s event: %s", event.type, exc)
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:
                log.exception("a stream commit listener failed")

    async def stop(self) -> None:
        """Stop the adapters, flush the logs, commit what is left, release everything."""
        if ACTIVE.get(self.project.root.resolve()) is self:
            del ACTIVE[self.project.root.resolve()]
        self._stop_adapters.set()
        if self._adapter_tasks:
            _, pending = await asyncio.wait(self._adapter_tasks, timeout=10)
            for task in pending:
                task.cancel()
        if self.worker is not None:
            await self.worker.stop()
        if self.committer is not None:
            await self.committer.stop()
        if self.trigger is not None:
            await self.trigger.stop()
        await self.publisher.close()
        if self._own_store and self._store is not None:
            self._store.close()
            self._store = None
        self.started = False


RUNTIME: web.AppKey[StreamRuntime] = web.AppKey("interlace_stream.runtime", StreamRuntime)


def attach(
    app: web.Application,
    project: Project,
    *,
    store: StateStore | None = None,
    execute_runs: bool = False,
) -> StreamRuntime | None:
    """Run ingestion inside ``app`` (``interlace serve``): the stream routes find the runtime,
    it starts and stops with the app, webhook adapters get their routes. Returns ``None`` (and
    does nothing) when the project declares no stream and no adapter."""
    runtime = StreamRuntime(project, store=store, execute_runs=execute_runs)
    if not runtime.streams and not runtime.adapters:
        return None
    mount(app, runtime)
    return runtime


def mount(app: web.Application, runtime: StreamRuntime) -> None:
    """Attach a runtime to an app that is not started yet (see :func:`attach`)."""
    from interlace_stream.adapters import webhook_router

    if any(getattr(a, "type_name", "") == "webhook" for a in runtime.adapters):
        webhook_router(runtime.adapters, runtime.publisher).add_to(app)
    app[RUNTIME] = runtime

    async def start(app: web.Application) -> None:
        await runtime.start()

    async def closing(app: web.Application) -> None:
        runtime.closing.set()  # open event streams end

    async def stop(app: web.Application) -> None:
        await runtime.stop()

    app.on_startup.append(start)
    app.on_shutdown.append(closing)
    app.on_cleanup.insert(0, stop)  # before the host closes the state store it shares
