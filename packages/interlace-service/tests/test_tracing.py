"""OpenTelemetry traces of real runs: run → model → materialize → check spans with their
attributes, from `interlace.run` in-process, from a run the server executes, and from the
`interlace run` command exporting over OTLP/HTTP to a collector."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from interlace import run_sync
from interlace.testing import ProjectFolder
from interlace_http.testing import ServedApp
from interlace_service.telemetry import use_tracer_provider
from interlace_service.testing import Served, wait_for
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry.sdk.trace import ReadableSpan

INTERLACE = Path(sys.executable).parent / "interlace"

FILES = {
    "models/orders.sql": "SELECT * FROM (VALUES (1, 10.0), (2, 20.0)) AS t(id, amount)",
    "models/revenue.sql": (
        "-- @quality_checks: [{not_null: total}]\nSELECT sum(amount) AS total FROM orders"
    ),
    "models/broken.sql": "SELECT no_such_column FROM orders",
    "models/after_broken.sql": "SELECT * FROM broken",
}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    use_tracer_provider(provider)
    yield exporter
    use_tracer_provider(None)


def by_name(found: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in found if span.name == name]


def the(found: tuple[ReadableSpan, ...], name: str, model: str) -> ReadableSpan:
    (span,) = [s for s in by_name(found, name) if (s.attributes or {})["interlace.model"] == model]
    return span


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def test_a_run_is_one_trace_of_run_model_materialize_and_check_spans(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    folder = ProjectFolder.create(tmp_path / "shop").write(FILES)

    result = run_sync(folder.root)

    assert result.status == "failed"
    found = spans.get_finished_spans()
    (run,) = by_name(found, "interlace.run")
    assert run.parent is None
    assert run.attributes is not None
    assert run.attributes["interlace.run_id"] == result.run_id
    assert run.attributes["interlace.status"] == "failed"
    assert run.attributes["interlace.succeeded"] == 2
    assert run.attributes["interlace.failed"] == 1
    assert run.status.status_code is StatusCode.ERROR
    assert {span.context.trace_id for span in found} == {run.context.trace_id}

    orders = the(found, "interlace.model", "orders")
    assert parent_of(orders) == run.context.span_id
    assert orders.attributes is not None
    assert orders.attributes["interlace.status"] == "success"
    assert orders.attributes["interlace.rows"] == 2
    assert orders.status.status_code is StatusCode.OK
    write = the(found, "interlace.materialize", "orders")
    assert parent_of(write) == orders.context.span_id
    assert write.attributes is not None
    assert write.attributes["interlace.materialize"] == "table"
    assert write.attributes["interlace.rows"] == 2
    assert orders.start_time is not None and write.start_time is not None
    assert orders.end_time is not None and write.end_time is not None
    assert orders.start_time <= write.start_time <= write.end_time <= orders.end_time

    check = the(found, "interlace.check", "revenue")
    assert parent_of(check) == the(found, "interlace.materialize", "revenue").context.span_id
    assert check.attributes is not None
    assert check.attributes["interlace.check_type"] == "not_null"
    assert check.attributes["interlace.status"] == "passed"

    broken = the(found, "interlace.model", "broken")
    assert broken.attributes is not None
    assert broken.status.status_code is StatusCode.ERROR
    assert "no_such_column" in str(broken.attributes["interlace.error"])
    assert [event.name for event in broken.events] == ["exception"]
    skipped = the(found, "interlace.model", "after_broken")
    assert skipped.attributes is not None
    assert skipped.attributes["interlace.status"] == "skipped"
    assert "broken" in str(skipped.attributes["interlace.skip_reason"])


def test_a_run_the_server_executes_is_traced_under_its_request_id(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    folder = ProjectFolder.create(tmp_path / "shop").write(FILES)
    served = Served.start(folder, grace=0.0)
    try:
        run = served.run_ok(select=["+revenue"])
    finally:
        served.close()

    found = spans.get_finished_spans()
    (root,) = by_name(found, "interlace.run")
    assert root.attributes is not None
    assert root.attributes["interlace.run_id"] == run["id"]
    assert {
        (s.attributes or {}).get("interlace.model") for s in by_name(found, "interlace.model")
    } == {
        "orders",
        "revenue",
    }


class Collector:
    """A tiny OTLP/HTTP receiver: keeps the spans of every ``POST /v1/traces``."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        app = web.Application()
        app.router.add_post("/v1/traces", self.receive)
        self.http = ServedApp(app).start()

    async def receive(self, request: web.Request) -> web.Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        self.headers.append(dict(request.headers))
        for resource in message.resource_spans:
            service = {a.key: a.value.string_value for a in resource.resource.attributes}
            for scope in resource.scope_spans:
                for span in scope.spans:
                    attributes = {}
                    for a in span.attributes:
                        kind = a.value.WhichOneof("value")
                        attributes[a.key] = getattr(a.value, kind) if kind else None
                    self.spans.append(
                        {
                            "name": span.name,
                            "id": span.span_id,
                            "parent": span.parent_span_id,
                            "trace": span.trace_id,
                            "attributes": attributes,
                            "service": service.get("service.name"),
                        }
                    )
        return web.Response(status=200, content_type="application/x-protobuf")


def test_interlace_run_exports_its_trace_over_otlp(tmp_path: Path) -> None:
    collector = Collector()
    try:
        config = (
            "name: shop\nconnections:\n  default:\n    type: duckdb\n    path: data/{env}.duckdb\n"
            "telemetry:\n  tracing:\n    exporter: otlp\n"
            f"    endpoint: {collector.http.url}/v1/traces\n"
            "    headers: {x-collector-token: '${COLLECTOR_TOKEN}'}\n"
            "    service_name: shop-pipeline\n"
        )
        folder = ProjectFolder.create(tmp_path / "shop", config=config).write(
            {k: v for k, v in FILES.items() if "broken" not in k}
        )
        env = {**os.environ, "COLLECTOR_TOKEN": "s3cret", "NO_COLOR": "1"}
        env.pop("INTERLACE_ENV", None)
        done = subprocess.run(
            [str(INTERLACE), "run"],
            cwd=folder.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr

        wait_for(lambda: any(s["name"] == "interlace.run" for s in collector.spans), 30, "spans")
    finally:
        collector.http.close()

    spans = collector.spans
    (run,) = [s for s in spans if s["name"] == "interlace.run"]
    assert run["service"] == "shop-pipeline"
    assert run["attributes"]["interlace.status"] == "success"
    assert {s["trace"] for s in spans} == {run["trace"]}
    models = {
        s["attributes"]["interlace.model"]: s for s in spans if s["name"] == "interlace.model"
    }
    assert set(models) == {"orders", "revenue"}
    assert all(model["parent"] == run["id"] for model in models.values())
    (check,) = [s for s in spans if s["name"] == "interlace.check"]
    writes = {s["id"]: s for s in spans if s["name"] == "interlace.materialize"}
    assert writes[check["parent"]]["parent"] == models["revenue"]["id"]
    assert collector.headers[0]["x-collector-token"] == "s3cret"


def test_a_bad_telemetry_section_names_the_key(tmp_path: Path) -> None:
    config = (
        "name: shop\nconnections:\n  default:\n    type: duckdb\n    path: data/{env}.duckdb\n"
        "telemetry:\n  tracing:\n    exporter: jaeger\n"
    )
    folder = ProjectFolder.create(tmp_path / "shop", config=config).write(FILES)
    env = {k: v for k, v in os.environ.items() if k != "INTERLACE_ENV"}
    done = subprocess.run(
        [str(INTERLACE), "run"], cwd=folder.root, env=env, capture_output=True, text=True
    )

    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "telemetry" in output and "exporter" in output and "Traceback" not in output
