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
    this process (off inside ``interlace serve``, whose run worker does it). ``dormant``: a
    project without streams or adapters starts nothing (the stream routes answer 503) until
    :meth:`reload` brings some (``interlace serve --reload``)."""

    def __init__(
        self,
        project: Project,
        *,
        store: StateStore | None = None,
        execute_runs: bool = True,
        adapters: bool = True,
        settings: StreamingSettings | None = None,
        dormant: bool = False,
    ) -> None:
        self._own_store = store is None
        self._store = store
        self.execute_runs = execute_runs
        self.with_adapters = adapters
        self.dormant = dormant
        self.listeners: list[Any] = []  # called with each StreamBatchCommitted (any thread)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closing = asyncio.Event()  # the server is stopping: event streams end
        self.extras: dict[str, Any] = {}  # per-runtime state of the routes (rate buckets)
        self.started = False
        self.reloading = False  # between stopping the old configuration and starting the new
        self._stopping = False  # stop() was called (until the next start())
        self._reload_lock: asyncio.Lock | None = None
        self.committer: Committer | None = None
        self.trigger: Trigger | None = None
        self.worker: LocalRunWorker | None = None
        self._adapter_tasks: list[asyncio.Task[None]] = []
        self._stop_adapters = asyncio.Event()
        streams = project_streams(project)
        self._configure(
            project,
            settings or streaming_settings(project),
            streams,
            self._build_adapters(project, streams),
        )

    def _build_adapters(self, project: Project, streams: dict[str, StreamInfo]) -> list[Any]:
        """The adapters of ``project`` (validated; raises a ConfigError naming the bad one)."""
        if not self.with_adapters:
            return []
        raw = adapter_configs(project, streams)
        if not raw:
            return []
        from interlace_stream.adapters import build_adapters

        return build_adapters(raw, project_dir=project.root, project=project, file="config.yaml")

    def _configure(
        self,
        project: Project,
        settings: StreamingSettings,
        streams: dict[str, StreamInfo],
        adapters: list[Any],
    ) -> None:
        """Take ``project``'s streams, settings and adapters (the runtime is not running)."""
        from interlace_stream.publisher import Publisher

        self.project = project
        self.settings = settings
        self.streams = streams
        self.publisher: Publisher = Publisher(
            streams,
            settings.log_path(project.root),
            dedup_window=settings.dedup_window,
            dedup_max_ids=settings.dedup_max_ids,
            segment_bytes=settings.segment_bytes,
            max_pending_bytes=settings.max_pending_bytes,
        )
        self.adapters: list[Any] = adapters
        self._signature = _signature(project, settings, streams, self.with_adapters)

    @property
    def idle(self) -> bool:
        """Nothing to run: a dormant runtime without streams or adapters."""
        return self.dormant and not self.streams and not self.adapters

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
        self._stopping = False
        if self.idle:
            return
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
        self._stopping = True  # no reload starts the runtime again
        if self._reload_lock is not None:
            async with self._reload_lock:  # a reload in progress finishes first
                await self._stop_parts()
        else:
            await self._stop_parts()
        if self._own_store and self._store is not None:
            self._store.close()
            self._store = None

    async def _stop_parts(self) -> None:
        if ACTIVE.get(self.project.root.resolve()) is self:
            del ACTIVE[self.project.root.resolve()]
        self._stop_adapters.set()
        if self._adapter_tasks:
            _, pending = await asyncio.wait(self._adapter_tasks, timeout=10)
            for task in pending:
                task.cancel()
        self._adapter_tasks = []
        self._stop_adapters = asyncio.Event()
        if self.worker is not None:
            await self.worker.stop()
            self.worker = None
        if self.committer is not None:
            await self.committer.stop()
            self.committer = None
        if self.trigger is not None:
            await self.trigger.stop()
            self.trigger = None
        await self.publisher.close()
        self.started = False

    # ------------------------------------------------------------------ reloading
    async def reload(self, project: Project) -> str:
        """Follow a changed ``project`` (``interlace serve --reload``) without stopping the
        server. Returns what happened:

        - ``"unchanged"``: the streams, the ``streaming:`` settings and the adapters are the
          same: the runtime only takes the new project (new or changed readers of streams);
        - ``"restarted"``: they changed: the adapters stop, the logs are flushed and what they
          hold is committed, then everything starts again with the new declarations (a new
          stream takes publishes, a removed one answers 404, changed adapters reconnect).
          Publishes that arrive meanwhile get 503 (retry them);
        - ``"refused"``: the new adapters do not validate: the runtime keeps running the
          previous configuration (the error is logged).
        """
        if self._reload_lock is None:
            self._reload_lock = asyncio.Lock()
        async with self._reload_lock:
            streams = project_streams(project)
            settings = streaming_settings(project)
            if _signature(project, settings, streams, self.with_adapters) == self._signature:
                self._take_project(project)
                return "unchanged"
            try:
                adapters = self._build_adapters(project, streams)
            except Exception as exc:
                log.error("reload: the adapters do not validate, keeping the previous: %s", exc)
                return "refused"
            was_running = self.started
            self.reloading = True
            try:
                if was_running:
                    await self._stop_parts()
                self._configure(project, settings, streams, adapters)
                self.extras.pop("limits", None)  # rate limits as the streams now declare them
                if self.loop is not None and not self._stopping:  # started by the host
                    await self.start()
            finally:
                self.reloading = False
            hooks = [a.name for a in self.adapters if getattr(a, "type_name", "") == "webhook"]
            if hooks and not self.extras.get("webhook_route"):
                log.warning(
                    "reload: webhook adapter(s) %s need the webhook route, which is added when "
                    "the server starts: restart the server to receive them",
                    ", ".join(hooks),
                )
            log.info(
                "reload: stream runtime restarted (streams: %s; adapters: %s)",
                ", ".join(sorted(self.streams)) or "none",
                ", ".join(a.name for a in self.adapters) or "none",
            )
            return "restarted"

    def reload_from_thread(self, project: Project, timeout: float = 120.0) -> str | None:
        """:meth:`reload` from another thread (the service's reload listener): runs it on the
        runtime's loop and waits for it. Before the runtime started, it just takes the project."""
        loop = self.loop
        if loop is None or loop.is_closed():
            if not self.started:
                streams = project_streams(project)
                adapters = self._build_adapters(project, streams)
                self._configure(project, streaming_settings(project), streams, adapters)
                return "restarted"
            return None
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:  # called on the runtime's own loop: it cannot wait for itself
            task = loop.create_task(self.reload(project))
            self.extras.setdefault("reload_tasks", set()).add(task)
            task.add_done_callback(self.extras["reload_tasks"].discard)
            return None
        future = asyncio.run_coroutine_threadsafe(self.reload(project), loop)
        return future.result(timeout)

    def _take_project(self, project: Project) -> None:
        self.project = project
        for part in (self.committer, self.trigger, self.worker, *self.adapters):
            if part is not None and hasattr(part, "project"):
                part.project = project


def _signature(
    project: Project,
    settings: StreamingSettings,
    streams: dict[str, StreamInfo],
    with_adapters: bool,
) -> Any:
    """What a reload compares: the streams' declarations, the ``streaming:`` settings and the
    adapters' configuration (a change of any restarts the runtime)."""
    declared = {
        name: (info.settings.model_dump(mode="json"), info.schema, info.connection)
        for name, info in streams.items()
    }
    adapters = adapter_configs(project, streams) if with_adapters else []
    return (declared, settings.model_dump(mode="json"), adapters)


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


def extend_service(app: web.Application, service: Any) -> None:
    """The ``service_extensions()`` hook: ingestion inside ``interlace serve``. The runtime is
    mounted even for a project without streams (it then starts nothing, and the stream routes
    answer 503), so that ``--reload`` can bring streams and adapters in, change them or take
    them away while the server runs (``service.on_reload``)."""
    runtime = StreamRuntime(service.project, store=service.store, execute_runs=False, dormant=True)
    mount(app, runtime)
    service.on_reload(runtime.reload_from_thread)


def mount(app: web.Application, runtime: StreamRuntime) -> None:
    """Attach a runtime to an app that is not started yet (see :func:`attach`)."""
    from interlace_stream.adapters import webhook_router

    if any(getattr(a, "type_name", "") == "webhook" for a in runtime.adapters):
        # the route finds the adapters and publisher of the moment (a reload replaces them)
        webhook_router(lambda: runtime.adapters, lambda: runtime.publisher).add_to(app)
        runtime.extras["webhook_route"] = True
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
