"""Prometheus metrics of one ``interlace serve`` app, served at ``GET /metrics``.

Each app has its own :class:`ServiceMetrics` with its own ``CollectorRegistry`` (never
prometheus-client's global one, so several apps in one process do not clash). Run metrics are
fed by the run events the service's event feed reads from the state store, so runs of
``interlace run`` beside the server and of other servers sharing the store count too.

========================================  =========  ==========================================
name                                      type       labels
========================================  =========  ==========================================
interlace_runs_total                      counter    status (success, failed, cancelled)
interlace_run_duration_seconds            histogram  status
interlace_model_runs_total                counter    model, status (success, failed, skipped)
interlace_model_duration_seconds          histogram  model, status
interlace_model_rows_written_total        counter    model
interlace_model_failures_total            counter    model, error_type
interlace_model_retries_total             counter    model
interlace_checks_total                    counter    model, severity, status
interlace_runs_queued                     gauge      (the run queue, read at each scrape)
interlace_runs_running                    gauge      (runs this server executes)
interlace_circuit_breaker_state           gauge      connection (0 closed, 1 half-open, 2 open)
interlace_http_requests_total             counter    method, route, status
interlace_http_request_duration_seconds   histogram  method, route (the template), status
interlace_sse_clients                     gauge      (connected event-stream clients)
========================================  =========  ==========================================

Extending it (the scheduler, streams)::

    metrics = service.metrics                      # in the service's process
    fired = metrics.counter("interlace_scheduler_fired_total", "Slots fired.", ["model"])
    fired.labels(model="orders").inc()
    metrics.on_scrape(lambda: lag.set(scheduler.lag()))   # refresh a gauge when scraped

A distribution that cannot import interlace-service (it sits below it) returns Prometheus
collectors from ``service_metrics()`` in its ``interlace.hooks`` module; every app registers
them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler, Middleware
    from interlace.state.base import StoredEvent

    from interlace_service.service import Service

log = logging.getLogger("interlace.service.metrics")

RUN_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
MODEL_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
UNMATCHED = "(unmatched)"  # requests no route matched: one label, not one per path


class ServiceMetrics:
    """The metrics of one app (see the module docstring)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._scrape_hooks: list[Callable[[], None]] = []
        self._made: dict[str, Any] = {}
        self.runs = self.counter("interlace_runs_total", "Runs that ended, by status.", ["status"])
        self.run_duration = self.histogram(
            "interlace_run_duration_seconds", "How long runs took.", ["status"], RUN_BUCKETS
        )
        self.model_runs = self.counter(
            "interlace_model_runs_total", "Models that ended, by status.", ["model", "status"]
        )
        self.model_duration = self.histogram(
            "interlace_model_duration_seconds",
            "How long models took (all attempts).",
            ["model", "status"],
            MODEL_BUCKETS,
        )
        self.rows = self.counter(
            "interlace_model_rows_written_total", "Rows models wrote.", ["model"]
        )
        self.failures = self.counter(
            "interlace_model_failures_total", "Models that failed.", ["model", "error_type"]
        )
        self.retries = self.counter(
            "interlace_model_retries_total", "Retries of failed model attempts.", ["model"]
        )
        self.checks = self.counter(
            "interlace_checks_total",
            "Quality check results.",
            ["model", "severity", "status"],
        )
        self.queued = self.gauge("interlace_runs_queued", "Run requests waiting in the queue.")
        self.running = self.gauge("interlace_runs_running", "Runs this server executes now.")
        self.breakers = self.gauge(
            "interlace_circuit_breaker_state",
            "Circuit breaker of a connection: 0 closed, 1 half-open, 2 open.",
            ["connection"],
        )
        self.http_requests = self.counter(
            "interlace_http_requests_total",
            "HTTP requests answered.",
            ["method", "route", "status"],
        )
        self.http_duration = self.histogram(
            "interlace_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["method", "route", "status"],
            HTTP_BUCKETS,
        )
        self.sse_clients = self.gauge(
            "interlace_sse_clients", "Clients connected to the event stream."
        )

    # ------------------------------------------------------------------ the factory

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        """A counter in this app's registry (the same one when asked again by name)."""
        made: Counter = self._make(Counter, name, documentation, labels)
        return made

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        """A gauge in this app's registry (the same one when asked again by name)."""
        made: Gauge = self._make(Gauge, name, documentation, labels)
        return made

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS,
    ) -> Histogram:
        """A histogram in this app's registry (the same one when asked again by name)."""
        made: Histogram = self._make(Histogram, name, documentation, labels, buckets=buckets)
        return made

    def _make(
        self, kind: type[Any], name: str, documentation: str, labels: Sequence[str], **extra: Any
    ) -> Any:
        existing = self._made.get(name)
        if existing is not None:
            if not isinstance(existing, kind):
                raise ValueError(f"metric {name!r} already exists as a {type(existing).__name__}")
            return existing
        metric = kind(name, documentation, list(labels), registry=self.registry, **extra)
        self._made[name] = metric
        return metric

    def on_scrape(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` before each scrape (to set gauges from the current state)."""
        self._scrape_hooks.append(hook)

    def register(self, collector: Any) -> None:
        """Add a Prometheus collector (an object with ``collect()``) to this registry."""
        self.registry.register(collector)

    def render(self) -> bytes:
        """The text exposition of every metric, after the scrape hooks ran."""
        for hook in list(self._scrape_hooks):
            try:
                hook()
            except Exception as exc:  # one broken gauge never breaks the scrape
                log.warning("a metrics scrape hook failed: %s", exc)
        return generate_latest(self.registry)

    # ------------------------------------------------------------------ run events

    def observe(self, stored: StoredEvent) -> None:
        """Count one run event (as the state store keeps it)."""
        data = stored.data
        kind = stored.type
        model = str(data.get("model") or "")
        if kind == "task.completed":
            self.model_runs.labels(model, "success").inc()
            self.model_duration.labels(model, "success").observe(float(data.get("duration") or 0))
            rows = data.get("rows")
            if isinstance(rows, int) and rows > 0:
                self.rows.labels(model).inc(rows)
        elif kind == "task.failed":
            self.model_runs.labels(model, "failed").inc()
            self.model_duration.labels(model, "failed").observe(float(data.get("duration") or 0))
            self.failures.labels(model, str(data.get("error_type") or "Error")).inc()
        elif kind == "task.skipped":
            self.model_runs.labels(model, "skipped").inc()
        elif kind == "task.retrying":
            self.retries.labels(model).inc()
        elif kind == "check.completed":
            self.checks.labels(model, str(data.get("severity")), str(data.get("status"))).inc()
        elif kind == "run.completed":
            status = str(data.get("status") or "failed")
            self.runs.labels(status).inc()
            self.run_duration.labels(status).observe(float(data.get("duration") or 0))

    # ------------------------------------------------------------------ HTTP

    def middleware(self) -> Middleware:
        """Latency and count of every request by method, route template and status."""

        @web.middleware
        async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                route = route_template(request)
                elapsed = time.perf_counter() - started
                self.http_requests.labels(request.method, route, str(status)).inc()
                self.http_duration.labels(request.method, route, str(status)).observe(elapsed)

        return observe


def route_template(request: web.BaseRequest) -> str:
    """The path template the request matched (``/api/v1/runs/{run_id}``), never the raw path
    (which would make one series per id)."""
    match_info = getattr(request, "match_info", None)
    route = getattr(match_info, "route", None)
    resource = getattr(route, "resource", None)
    if resource is None or getattr(match_info, "http_exception", None) is not None:
        return UNMATCHED
    return str(resource.canonical)


def service_metrics(service: Service) -> ServiceMetrics:
    """The metrics of ``service``'s app: run events, queue, breakers and SSE clients, plus the
    collectors installed distributions add (``service_metrics()`` hooks)."""
    metrics = ServiceMetrics()

    def refresh() -> None:
        worker = service.worker
        metrics.running.set(len(worker.running()))
        metrics.queued.set(len(service.store.run_requests(service.env, ["queued"])))
        metrics.sse_clients.set(service.feed.listeners)
        for breaker in service.breakers.breakers():
            metrics.breakers.labels(breaker.name).set(BREAKER_STATES.get(breaker.state, 0))

    metrics.on_scrape(refresh)
    from interlace.hooks import service_metrics as extension_collectors

    for collector in extension_collectors():
        metrics.register(collector)
    return metrics
