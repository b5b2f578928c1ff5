"""The alerts of one project: events in, incidents and messages out, sent in the background.

:class:`AlertService` turns events into incident changes (:mod:`~interlace_service.alerts.rules`),
writes each change together with its messages (an outbox, ``interlace.state.alert_state``) and
sends them from its own thread: retried with exponential backoff, never in a run's way. Where
the events come from:

- ``interlace serve`` (``watch_events=True``): it reads the state store's event log, so it
  sees the server's runs, runs of ``interlace run`` in terminals and the scheduler's events,
  and checks the models' ``sla`` every ``alerts.sla_check_every``;
- a run from the command line or Python (:mod:`~interlace_service.alerts.listener`): the run's
  own events, an SLA check at its end, and a bounded wait (``alerts.delivery.wait``) for the
  messages; what is not delivered by then stays queued and is retried by the next run or
  server.

Usable without the HTTP server::

    alerts = AlertService(load_project("."))
    alerts.start()
    alerts.submit({"type": "task.failed", "run_id": "r1", "model": "orders", "error": "boom"})
    alerts.flush(timeout=10)     # True when every message is sent (or failed for good)
    alerts.stop()

Why one module over 500 lines: :class:`AlertService` is one object whose intake, outbox and
sender thread share a lock and the incidents' state; the rules, the channels and the stored
rows already live in their own modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from interlace.errors import InterlaceError, first_line

from interlace_service.alerts.config import AlertsConfig
from interlace_service.alerts.messages import incident_message, test_message
from interlace_service.alerts.rules import Change, CompiledRule, Open, changes, compile_rules

if TYPE_CHECKING:
    import aiohttp
    from interlace.project import Project
    from interlace.state.alert_state import AlertStateMixin, Delivery, Incident
    from interlace.state.base import StateStore

    from interlace_service.metrics import ServiceMetrics

log = logging.getLogger("interlace.alerts")

CURSOR_OWNER = "server"  # the event-log position the servers of an environment share
_RUNNING: dict[tuple[str, str], AlertService] = {}  # (project root, env) -> the server's alerts
_RUNNING_LOCK = threading.Lock()


class AlertsError(InterlaceError):
    """Alerts cannot do what was asked (not configured, an unknown channel)."""


def alerts_config(project: Project) -> AlertsConfig | None:
    """The project's validated ``alerts:`` section, or ``None`` when it has none."""
    section = project.loaded.sections.get("alerts")
    return section if isinstance(section, AlertsConfig) else None


def server_alerts(project: Project) -> AlertService | None:
    """The alerts a server in this process runs for the project (they read every event of the
    state store, so a run here needs no listener of its own)."""
    with _RUNNING_LOCK:
        return _RUNNING.get((str(project.root), project.env))


@dataclass(frozen=True)
class ChannelHealth:
    """How a channel is doing, from the deliveries the state store keeps."""

    name: str
    type: Literal["webhook", "slack", "email"]
    target: str
    status: Literal["ok", "failing", "unknown"]  # ok: its last attempt delivered
    last_attempt_at: float | None
    last_sent_at: float | None
    last_error: str | None
    counts: dict[str, int]


class AlertService:
    """See the module docstring. ``project`` may be a function returning the current project
    (a server that reloads it)."""

    def __init__(
        self,
        project: Project | Callable[[], Project],
        *,
        watch_events: bool = False,
        poll: float = 0.2,
        store: StateStore | None = None,
    ) -> None:
        self._project_of: Callable[[], Project] = (
            project if callable(project) else (lambda: project)
        )
        self.watch_events = watch_events
        self.poll = poll
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._store: StateStore | None = store  # given: shared, left open by stop()
        self._owns_store = store is None
        self._inbox: queue.SimpleQueue[Mapping[str, Any] | None] = queue.SimpleQueue()
        self._unprocessed = 0
        self._counter = threading.Lock()
        self._progress = threading.Condition()
        self._mine: set[int] = set()  # deliveries this instance queued (what flush waits for)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = threading.Event()
        self._in_flight: set[int] = set()
        self._rules: tuple[int, list[CompiledRule]] | None = None
        self._cursor: int | None = None
        self._next_sla = 0.0
        # called after each attempt with (channel, kind, outcome: sent, retry or failed)
        self.on_attempt: list[Callable[[str, str, str], None]] = []

    # ------------------------------------------------------------------ what it works on

    @property
    def project(self) -> Project:
        return self._project_of()

    @property
    def env(self) -> str:
        return self.project.env

    @property
    def config(self) -> AlertsConfig:
        """The ``alerts:`` section (an empty, inactive one when the project has none)."""
        return alerts_config(self.project) or AlertsConfig()

    def rules(self) -> list[CompiledRule]:
        """The rules, their model selectors resolved (again after the project reloads)."""
        project = self.project
        if self._rules is None or self._rules[0] != id(project):
            self._rules = (id(project), compile_rules(self.config, project))
        return self._rules[1]

    @property
    def store(self) -> AlertStateMixin:
        if self._store is None:
            self.open()
        from interlace.state.alert_state import AlertStateMixin

        store = self._store
        if not isinstance(store, AlertStateMixin):
            raise AlertsError(
                f"the state store {type(store).__name__} cannot keep alert incidents",
                hint="use the default SQLite state store or `state: {type: postgres}`",
            )
        return store

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> AlertService:
        """Open a state store connection of its own (``start`` does it too)."""
        if self._store is None:
            from interlace.opening import open_state

            self._store = open_state(self.project)
        self.store  # noqa: B018 - a store that keeps no incidents fails here, not later
        return self

    def start(self) -> AlertService:
        """Send in the background from now on (and, with ``watch_events``, read the event log
        and check SLAs)."""
        self.open()
        self.rules()  # a rule naming no model fails here, not in the background
        # import what the sender needs here, not in its thread: CPython 3.11 may fail a
        # compile() that runs in two threads at once (python/cpython#106905)
        import aiohttp  # noqa: F401

        import interlace_service.alerts.channels  # noqa: F401

        if self.watch_events:
            store = self.store
            saved = store.alert_cursor(self.env, CURSOR_OWNER)
            self._cursor = saved if saved is not None else self._latest_event()
            with _RUNNING_LOCK:
                _RUNNING[(str(self.project.root), self.env)] = self
        self._thread = threading.Thread(target=self._run, name="interlace-alerts", daemon=True)
        self._thread.start()
        return self

    @property
    def stopped(self) -> bool:
        return self._stopping.is_set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sending; messages being sent go back to the queue (sent again later)."""
        with _RUNNING_LOCK:
            key = (str(self.project.root), self.env)
            if _RUNNING.get(key) is self:
                del _RUNNING[key]
        self._stopping.set()
        self._poke()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._store is not None:
            with contextlib.suppress(Exception):
                self.store.release_deliveries(self.owner)
            if self._owns_store:
                self._store.close()
                self._store = None

    # ------------------------------------------------------------------ input

    def submit(self, event: Mapping[str, Any]) -> None:
        """Hand over an event (its ``to_dict()``, or a stored event's data); returns at once."""
        with self._counter:
            self._unprocessed += 1
        self._inbox.put(event)
        self._poke()

    def request_sla_check(self) -> None:
        """Check the models' SLAs in the background soon (the end of a run does)."""
        self._next_sla = 0.0
        with self._counter:
            self._unprocessed += 1
        self._inbox.put(None)
        self._poke()

    def process(self, event: Mapping[str, Any]) -> list[Incident]:
        """Apply one event now (in this thread): the incidents it opened or resolved."""
        return self._apply(changes(event, self.rules()), event)

    def check_slas(self, now: float | None = None) -> list[Incident]:
        """Open or resolve ``sla_breach`` incidents now: the incidents opened or resolved."""
        from interlace_service.alerts.rules import sla_changes

        rules = [r for r in self.rules() if "sla_breach" in r.events]
        if not rules:
            return []
        project = self.project
        states = self._state_store().model_states(project.env)
        built = {name: state.last_success_at for name, state in states.items()}
        return self._apply(sla_changes(project, built, time.time() if now is None else now, rules))

    def queue_test(self, channel: str | None = None) -> list[int]:
        """Queue a test message to ``channel`` (default: every channel); the delivery ids."""
        config = self.config
        if not config.channels:
            raise AlertsError(
                "no alert channels are configured",
                hint="add one under alerts.channels in config.yaml (see docs/alerts.md)",
            )
        if channel is not None and channel not in config.channels:
            raise AlertsError(
                f"no alert channel named '{channel}'",
                hint=f"configured channels: {', '.join(config.channels)}",
            )
        names = [channel] if channel is not None else list(config.channels)
        project, now = self.project, time.time()
        ids = []
        for name in names:
            message = test_message(name, project=project.name, env=project.env)
            ids.append(
                self.store.add_delivery(
                    env=project.env, channel=name, kind="test", payload=_json(message), at=now
                )
            )
        self._queued(ids)
        return ids

    # ------------------------------------------------------------------ waiting

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until the events handed over are applied and every
        message this instance queued is sent or failed for good; whether that happened."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            if self._thread is None:
                return False
            with self._counter:
                idle = self._unprocessed == 0
            if idle and not self.undelivered():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with self._progress:
                self._progress.wait(min(left, 0.5))

    def undelivered(self) -> list[Delivery]:
        """Messages this instance queued that are neither sent nor failed for good."""
        if not self._mine:
            return []
        rows = self.store.deliveries(self.env, ids=sorted(self._mine), limit=len(self._mine))
        return [d for d in rows if d.status in ("pending", "sending")]

    # ------------------------------------------------------------------ status (the API)

    def channel_health(self) -> list[ChannelHealth]:
        store, env = self.store, self.env
        found = []
        for name, channel in self.config.channels.items():
            last = store.last_delivery_attempt(env, name)
            status: Literal["ok", "failing", "unknown"]
            if last is None:
                status, error = "unknown", None
            elif last.status == "sent" and last.sent_at == last.last_attempt_at:
                status, error = "ok", None
            else:
                status, error = "failing", last.last_error
            sent = [d.sent_at for d in store.deliveries(env, channel=name, limit=20) if d.sent_at]
            found.append(
                ChannelHealth(
                    name=name,
                    type=channel.type,
                    target=channel.target(),
                    status=status,
                    last_attempt_at=last.last_attempt_at if last else None,
                    last_sent_at=max(sent) if sent else None,
                    last_error=error,
                    counts=store.delivery_counts(env, name),
                )
            )
        return found

    # ------------------------------------------------------------------ applying changes

    def _apply(self, found: list[Change], event: Mapping[str, Any] | None = None) -> list[Incident]:
        from interlace.state.alert_state import DeliveryKind, IncidentOpening

        if not found:
            return []
        store, project = self.store, self.project
        at = float(event.get("at") or time.time()) if event else time.time()
        done: list[Incident] = []
        queued: list[int] = []
        for change in found:
            rule = change.rule
            kind: DeliveryKind
            with store.transaction():  # the incident and its messages commit together
                if isinstance(change, Open):
                    incident = store.open_incident(
                        IncidentOpening(
                            env=project.env,
                            rule=rule.name,
                            subject=change.subject,
                            event=change.event,
                            summary=change.summary,
                            details=change.details,
                            run_id=change.run_id,
                            at=at,
                        )
                    )
                    kind = "alert"
                else:
                    incident = store.resolve_incident(
                        project.env,
                        rule.name,
                        change.event,
                        change.subject,
                        at=at,
                        resolution=change.resolution,
                        opened_before=change.opened_before,
                    )
                    kind = "resolve"
                if incident is None:
                    continue  # open already (an occurrence), or nothing open to resolve
                done.append(incident)
                if kind == "resolve" and not rule.resolve:
                    continue
                message = _json(
                    incident_message(incident, kind, project=project.name, env=project.env)
                )
                for channel in rule.channels:
                    queued.append(
                        store.add_delivery(
                            env=project.env,
                            channel=channel,
                            kind=kind,
                            payload=message,
                            at=at,
                            incident_id=incident.id,
                        )
                    )
            log.info(
                "alert %s %s: %s",
                incident.rule,
                "opened" if kind == "alert" else "resolved",
                incident.summary if kind == "alert" else incident.resolution,
            )
        self._queued(queued)
        return done

    def _queued(self, ids: list[int]) -> None:
        self._mine.update(ids)
        self._poke()

    def _state_store(self) -> StateStore:
        self.open()
        assert self._store is not None
        return self._store

    def _latest_event(self) -> int:
        return int(self._state_store().latest_event_id())

    # ------------------------------------------------------------------ the background thread

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wake.set)
        with self._progress:
            self._progress.notify_all()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:
            log.exception("the alert sender stopped")

    async def _main(self) -> None:
        import aiohttp

        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        tasks: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession() as http:
            while not self._stopping.is_set():
                try:
                    await asyncio.to_thread(self._housekeeping)
                    due = await asyncio.to_thread(self._take)
                except Exception as exc:  # a lost state store connection: next time
                    log.warning("alerts: the state store could not be read: %s", first_line(exc))
                    due = []
                for delivery in due:
                    self._in_flight.add(delivery.id)
                    task = asyncio.create_task(self._send(http, delivery))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll)
                self._wake.clear()
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._loop = None

    def _housekeeping(self) -> None:
        """Apply handed-over events, read new events of the log, check SLAs when due."""
        while True:
            try:
                event = self._inbox.get_nowait()
            except queue.Empty:
                break
            try:
                if event is None:
                    self._sla_now()
                else:
                    self.process(event)
            except Exception as exc:
                log.warning("alerts: an event could not be applied: %s", first_line(exc))
            finally:
                with self._counter:
                    self._unprocessed -= 1
                with self._progress:
                    self._progress.notify_all()
        if self.watch_events:
            self._read_log()
            if time.monotonic() >= self._next_sla:
                self._sla_now()

    def _sla_now(self) -> None:
        self._next_sla = time.monotonic() + max(self.config.sla_check_every, 1.0)
        self.check_slas()

    def _read_log(self) -> None:
        store = self._state_store()
        env = self.env
        while True:
            events = store.events(self._cursor or 0, None, 500)
            for stored in events:
                if stored.env == env:
                    try:
                        self.process({**stored.data, "type": stored.type, "at": stored.at})
                    except Exception as exc:
                        log.warning("alerts: event %d not applied: %s", stored.id, first_line(exc))
                self._cursor = stored.id
            if events:
                assert self._cursor is not None
                self.store.save_alert_cursor(env, CURSOR_OWNER, self._cursor, time.time())
            if len(events) < 500:
                return

    def _take(self) -> list[Delivery]:
        lease = self.config.delivery.timeout + 60.0
        taken = self.store.take_deliveries(self.owner, env=self.env, now=time.time(), lease=lease)
        return [d for d in taken if d.id not in self._in_flight]

    async def _send(self, http: aiohttp.ClientSession, delivery: Delivery) -> None:
        from interlace_service.alerts.channels import (
            DeliveryError,
            send_email,
            send_slack,
            send_webhook,
        )

        config = self.config
        channel = config.channels.get(delivery.channel)
        timeout = (channel.timeout if channel else None) or config.delivery.timeout
        error: str | None = None
        try:
            message = json.loads(delivery.payload)
            if channel is None:
                error = f"the channel '{delivery.channel}' is no longer configured"
            elif channel.type == "webhook":
                await send_webhook(http, channel, message, delivery.id, timeout)
            elif channel.type == "slack":
                await send_slack(http, channel, message, delivery.id, timeout)
            else:
                await send_email(channel, message, timeout)
        except DeliveryError as exc:
            error = str(exc)
        except asyncio.CancelledError:
            self._in_flight.discard(delivery.id)
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {first_line(exc)}"
        attempts = delivery.attempts + 1
        now = time.time()
        retry_at = None
        if error is not None and channel is not None and attempts < config.delivery.attempts:
            retry_at = now + config.delivery.delay(attempts)
        if error is None:
            log.info("alert %s delivered to channel %s", delivery.id, delivery.channel)
        elif retry_at is not None:
            log.warning(
                "alert %s to channel %s failed (attempt %d of %d): %s; retrying in %.1f s",
                delivery.id,
                delivery.channel,
                attempts,
                config.delivery.attempts,
                error,
                retry_at - now,
            )
        else:
            log.error(
                "alert %s to channel %s failed for good after %d attempt(s): %s",
                delivery.id,
                delivery.channel,
                attempts,
                error,
            )
        try:
            await asyncio.to_thread(
                self.store.delivery_attempted, delivery.id, at=now, error=error, retry_at=retry_at
            )
        except Exception as exc:
            log.warning("alerts: delivery %s not recorded: %s", delivery.id, first_line(exc))
        finally:
            self._in_flight.discard(delivery.id)
            self._poke()
        outcome = "sent" if error is None else "retry" if retry_at is not None else "failed"
        for observe in self.on_attempt:
            try:
                observe(delivery.channel, delivery.kind, outcome)
            except Exception as exc:
                log.warning("alerts: an attempt observer failed: %s", first_line(exc))


def _json(message: dict[str, Any]) -> str:
    return json.dumps(message, sort_keys=True, default=str)


def serve_alerts(
    project: Callable[[], Project], metrics: ServiceMetrics | None = None
) -> AlertService | None:
    """The alerts of ``interlace serve`` (reading the event log, checking SLAs), started, with
    their ``metrics``; or ``None`` when the project has no active ``alerts:``. A rule naming no
    model fails here."""
    config = alerts_config(project())
    if config is None or not config.active:
        return None
    alerts = AlertService(project, watch_events=True)
    if metrics is not None:
        from interlace_service.alerts.metrics import instrument

        instrument(alerts, metrics)
    return alerts.start()
