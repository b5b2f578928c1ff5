"""OpenTelemetry traces of real runs: a span per run, per model, per write and per check.

Every :class:`~interlace.run_session.RunSession` (``interlace run``, ``interlace serve``, the
scheduler) hands itself to :func:`attach` through the ``run_listeners`` hook, which follows the
run's events on its bus and turns them into spans when the project's ``telemetry:`` section
asks for an exporter::

    telemetry:
      tracing:
        exporter: otlp                 # none (default) | console | otlp
        endpoint: http://collector:4318/v1/traces   # default: $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
                                                    # else http://localhost:4318/v1/traces
        headers: {authorization: "Bearer ${OTLP_TOKEN}"}   # ${VAR}s come from the environment
        service_name: interlace

Spans (one trace per run)::

    interlace.run            run_id, project, env, models, status, succeeded/failed/skipped
    └─ interlace.model       model, status, rows, attempts, error (one per model)
       ├─ interlace.materialize   materialize, strategy, rows, inserted/updated/deleted
       │  └─ interlace.check      check name, type, severity, status, failing rows
       └─ (failed models carry the error as the span's status and an exception event)

opentelemetry is imported only when a run is traced (``exporter`` is not ``none``).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from interlace.events import Event
    from interlace.run_session import RunSession
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger("interlace.telemetry")

Exporter = Literal["none", "console", "otlp"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TracingSettings(_Strict):
    """Where the spans of runs go: nowhere (``none``), standard error (``console``) or an
    OpenTelemetry collector over OTLP/HTTP (``otlp``)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    exporter: Exporter = "none"
    """`none` (no traces), `console` (standard error) or `otlp` (an OpenTelemetry collector over
    OTLP/HTTP)."""
    endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces URL; default $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or "
        "http://localhost:4318/v1/traces",
    )
    headers: dict[str, str] = Field(default_factory=dict)
    """HTTP headers sent with each export (a collector's API key)."""
    service_name: str = "interlace"
    """The `service.name` of the spans."""
    timeout: float = Field(default=10.0, gt=0, description="seconds per OTLP export")


class TelemetrySettings(_Strict):
    """The ``telemetry:`` section of config.yaml: OpenTelemetry traces of runs."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    tracing: TracingSettings = Field(default_factory=TracingSettings)
    """Where the spans of runs (OpenTelemetry traces) go."""


def telemetry_settings(sections: dict[str, Any]) -> TelemetrySettings:
    """The validated ``telemetry:`` section of a loaded project (defaults when absent)."""
    section = sections.get("telemetry")
    return section if isinstance(section, TelemetrySettings) else TelemetrySettings()


# ---------------------------------------------------------------------- tracer providers

_LOCK = threading.Lock()
_PROVIDERS: dict[str, TracerProvider] = {}
_OVERRIDE: list[TracerProvider] = []


def use_tracer_provider(provider: TracerProvider | None) -> None:
    """Send the spans of every run in this process to ``provider`` whatever the projects'
    ``telemetry:`` sections say (an application that set up OpenTelemetry itself, or a test
    with an ``InMemorySpanExporter``); ``None`` goes back to the config.

    Example::

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        use_tracer_provider(provider)
    """
    with _LOCK:
        _OVERRIDE.clear()
        if provider is not None:
            _OVERRIDE.append(provider)


def tracer_provider(settings: TracingSettings) -> TracerProvider | None:
    """The process's provider for ``settings`` (made once), or None when nothing is traced."""
    with _LOCK:
        if _OVERRIDE:
            return _OVERRIDE[0]
        if settings.exporter == "none":
            return None
        key = settings.model_dump_json()
        provider = _PROVIDERS.get(key)
        if provider is None:
            provider = _PROVIDERS[key] = _make_provider(settings)
        return provider


def _make_provider(settings: TracingSettings) -> TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    if settings.exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    else:
        import os

        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = (
            settings.endpoint
            or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            or "http://localhost:4318/v1/traces"
        )
        exporter = OTLPSpanExporter(
            endpoint=endpoint, headers=dict(settings.headers) or None, timeout=settings.timeout
        )
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def flush(timeout_ms: int = 10_000) -> bool:
    """Export the spans still buffered (the server calls it when it stops; a CLI process
    does at exit). False when an exporter did not finish in time."""
    with _LOCK:
        providers = [*_PROVIDERS.values(), *_OVERRIDE]
    return all(provider.force_flush(timeout_ms) for provider in providers)


# ---------------------------------------------------------------------- the run listener


def attach(session: RunSession) -> Callable[[], None] | None:
    """The ``run_listeners`` hook: trace ``session``'s run when its project asks for it."""
    settings = telemetry_settings(session.project.loaded.sections)
    provider = tracer_provider(settings.tracing)
    if provider is None:
        return None
    tracer = provider.get_tracer("interlace")
    follower = RunTracer(tracer, project=session.project.name, env=session.project.env)
    return session.bus.subscribe(follower.on_event)


def _ns(at: float) -> int:
    return int(at * 1e9)


class RunTracer:
    """Turns one run's events into spans (see the module docstring). Events arrive on the
    threads of the models that publish them, hence the lock."""

    def __init__(self, tracer: Tracer, *, project: str, env: str) -> None:
        self.tracer = tracer
        self.project = project
        self.env = env
        self._lock = threading.Lock()
        self._run: Span | None = None
        self._models: dict[str, Span] = {}
        self._started: dict[str, float] = {}
        self._checks: dict[str, list[Any]] = {}

    def on_event(self, event: Event) -> None:
        handler = _HANDLERS.get(event.type)
        if handler is None:
            return
        with self._lock:
            handler(self, event)

    # -- the run

    def _run_started(self, event: Any) -> None:
        self._run = self.tracer.start_span(
            "interlace.run",
            start_time=_ns(event.at),
            attributes={
                "interlace.run_id": event.run_id,
                "interlace.project": self.project,
                "interlace.env": self.env,
                "interlace.models": len(event.models),
                "interlace.selection": list(event.selection),
                "interlace.force": event.force,
            },
        )

    def _run_finished(self, event: Any) -> None:
        for name in list(self._models):  # cancelled before they ended
            self._end_model(name, event.at, "cancelled", None)
        run = self._run
        if run is None:
            return
        run.set_attributes(
            {
                "interlace.status": event.status,
                "interlace.succeeded": event.succeeded,
                "interlace.failed": event.failed,
                "interlace.skipped": event.skipped,
                "interlace.duration": event.duration,
            }
        )
        _set_status(run, event.status == "success", event.error)
        run.end(end_time=_ns(event.at))
        self._run = None

    # -- models

    def _context(self) -> Any:
        from opentelemetry import trace

        return trace.set_span_in_context(self._run) if self._run is not None else None

    def _model_started(self, event: Any) -> None:
        name = event.model
        if name in self._models:  # a retry: the same span goes on
            self._models[name].add_event("retry", {"interlace.attempt": event.attempt})
            return
        self._started[name] = event.at
        self._models[name] = self.tracer.start_span(
            "interlace.model",
            context=self._context(),
            start_time=_ns(event.at),
            attributes={"interlace.run_id": event.run_id, "interlace.model": name},
        )

    def _model_retrying(self, event: Any) -> None:
        span = self._models.get(event.model)
        if span is not None:
            span.add_event(
                "retrying",
                {"interlace.attempt": event.attempt, "interlace.error": event.error},
                timestamp=_ns(event.at),
            )

    def _check(self, event: Any) -> None:
        self._checks.setdefault(event.model, []).append(event)

    def _model_finished(self, event: Any) -> None:
        from opentelemetry import trace

        name = event.model
        span = self._models.get(name)
        if span is None:
            self._model_started(event)
            span = self._models[name]
        began = max(event.write_started or self._started.get(name, event.at), 0.0)
        attributes: dict[str, Any] = {
            "interlace.run_id": event.run_id,
            "interlace.model": name,
            "interlace.materialize": event.materialize,
            "interlace.strategy": event.strategy,
        }
        if event.rows is not None:
            attributes["interlace.rows"] = event.rows
        for key, value in event.stats.items():
            attributes[f"interlace.{key}"] = value
        write = self.tracer.start_span(
            "interlace.materialize",
            context=trace.set_span_in_context(span),
            start_time=_ns(began),
            attributes=attributes,
        )
        self._check_spans(name, write, began, event.at)
        write.end(end_time=_ns(event.at))
        span.set_attribute("interlace.attempts", event.attempts)
        if event.rows is not None:
            span.set_attribute("interlace.rows", event.rows)
        self._end_model(name, event.at, "success", None)

    def _model_failed(self, event: Any) -> None:
        name = event.model
        if name not in self._models:
            self._model_started(event)
        span = self._models[name]
        self._check_spans(name, span, self._started.get(name, event.at), event.at)
        span.set_attribute("interlace.attempts", event.attempts)
        span.set_attribute("interlace.error_type", event.error_type)
        span.add_event(
            "exception",
            {"exception.type": event.error_type, "exception.message": event.error},
            timestamp=_ns(event.at),
        )
        self._end_model(name, event.at, "failed", event.error)

    def _model_skipped(self, event: Any) -> None:
        name = event.model
        if name not in self._models:
            self._model_started(event)
        self._models[name].set_attribute("interlace.skip_reason", event.reason)
        self._end_model(name, event.at, "skipped", None)

    def _end_model(self, name: str, at: float, status: str, error: str | None) -> None:
        span = self._models.pop(name, None)
        self._started.pop(name, None)
        self._checks.pop(name, None)
        if span is None:
            return
        span.set_attribute("interlace.status", status)
        if error is not None:
            span.set_attribute("interlace.error", error)
        _set_status(span, status in ("success", "skipped"), error)
        span.end(end_time=_ns(at))

    def _check_spans(self, model: str, parent: Span, began: float, ended: float) -> None:
        """The checks of ``model`` as children of ``parent``: a check event carries when it
        ended, not how long it took, so each span is the instant it reported."""
        from opentelemetry import trace

        for check in self._checks.pop(model, []):
            at = _ns(min(max(check.at, began), ended))
            span = self.tracer.start_span(
                "interlace.check",
                context=trace.set_span_in_context(parent),
                start_time=at,
                attributes={
                    "interlace.run_id": check.run_id,
                    "interlace.model": model,
                    "interlace.check": check.name,
                    "interlace.check_type": check.check_type,
                    "interlace.severity": check.severity,
                    "interlace.status": check.status,
                    "interlace.failing_rows": check.failing_rows,
                },
            )
            _set_status(span, check.status == "passed", check.message)
            span.end(end_time=at)


def _set_status(span: Span, ok: bool, error: str | None) -> None:
    from opentelemetry.trace import Status, StatusCode

    if ok:
        span.set_status(Status(StatusCode.OK))
    else:
        span.set_status(Status(StatusCode.ERROR, error or None))


_HANDLERS: dict[str, Callable[[RunTracer, Any], None]] = {
    "run.started": RunTracer._run_started,
    "run.completed": RunTracer._run_finished,
    "task.running": RunTracer._model_started,
    "task.retrying": RunTracer._model_retrying,
    "task.completed": RunTracer._model_finished,
    "task.failed": RunTracer._model_failed,
    "task.skipped": RunTracer._model_skipped,
    "check.completed": RunTracer._check,
}
