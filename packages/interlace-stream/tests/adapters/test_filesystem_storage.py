"""The ``filesystem`` adapter on a storage connection: it polls an S3 bucket (a real
S3-compatible server, moto's, spoken to over HTTP) through core's storage seam, publishes each
new file once, remembers what it took so a restart takes nothing twice, and survives a kill
between the publish and remembering the file (the copies are dropped by id)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from interlace.project import load_project
from interlace.testing.s3 import S3Server, s3_server
from interlace_stream.adapters import build_adapter

from .support import (
    eventually,
    open_publisher,
    run_in_process,
    running,
    stored,
    stored_on_disk,
    stream_info,
)


class Bucket:
    """A fresh bucket on the in-process S3 server."""

    def __init__(self, server: S3Server) -> None:
        self.server = server
        self.endpoint = server.endpoint
        self.client = server.client()
        self.name = server.new_bucket("landing")

    def put(self, key: str, body: str) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=body.encode())

    def listing(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name).get("Contents", [])
        return sorted(item["Key"] for item in listed)


@pytest.fixture(scope="module")
def s3() -> S3Server:
    return s3_server()


@pytest.fixture(autouse=True)
def _no_ambient_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials come only from the connection's config (never from the machine)."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _project(root: Path, bucket: Bucket) -> Path:
    """A project whose `landing` connection is the bucket."""
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(
        f"""\
name: landing_project
connections:
  default:
    type: duckdb
    path: data/{{env}}.duckdb
  landing:
    type: s3
    bucket: {bucket.name}
    endpoint_url: {bucket.endpoint}
    region: {bucket.server.region}
    access_key_id: {bucket.server.key_id}
    secret_access_key: {bucket.server.secret}
""",
        encoding="utf-8",
    )
    return root


def _config(**extra: Any) -> dict[str, Any]:
    return {
        "name": "landing_orders",
        "type": "filesystem",
        "stream": "orders",
        "connection": "landing",
        "path": "orders/incoming",
        "pattern": "*.ndjson",
        "poll_interval": 0.05,
        **extra,
    }


def _ndjson(*ids: int) -> str:
    return "".join(json.dumps({"id": n}) + "\n" for n in ids)


def test_new_files_in_a_bucket_are_published_once_across_restarts(
    tmp_path: Path, s3: S3Server
) -> None:
    bucket = Bucket(s3)
    root = _project(tmp_path / "project", bucket)
    bucket.put("orders/incoming/2024-01-01.ndjson", _ndjson(1, 2))
    bucket.put("orders/incoming/2024-01-02.ndjson", _ndjson(3))
    bucket.put("orders/incoming/notes.txt", "not matched by the pattern")
    bucket.put("orders/incoming/2024-01-03.ndjson.part", _ndjson(99))  # being uploaded
    bucket.put("orders/other/2024-01-01.ndjson", _ndjson(98))  # another folder

    async def session(expect: int, acked: int, before_stop: Any = None) -> list[int]:
        adapter = build_adapter(_config(), project=load_project(root))
        async with open_publisher(tmp_path / "logs", stream_info("orders")) as publisher:
            async with running(adapter, publisher):
                await eventually(
                    lambda: adapter.health().state == "healthy", what="the bucket listed"
                )
                await eventually(
                    lambda: adapter.counters["acked"] == acked, what=f"{acked} file(s) taken"
                )
                if before_stop is not None:
                    before_stop()
                    await eventually(lambda: adapter.counters["acked"] == acked + 1)
                await asyncio.sleep(0.3)  # a few more polls: nothing is taken twice
            assert adapter.counters["received"] == adapter.counters["acked"]
            events = stored(publisher, "orders")
        assert len(events) == expect
        return sorted(int(event["id"]) for _, event in events)

    assert asyncio.run(session(3, 2)) == [1, 2, 3]
    # a restart takes nothing again, and a file arriving later is taken
    arrived = lambda: bucket.put("orders/incoming/2024-01-04.ndjson", _ndjson(4, 5))  # noqa: E731
    assert asyncio.run(session(5, 0, before_stop=arrived)) == [1, 2, 3, 4, 5]
    # the files stay in the bucket (the adapter only read them)
    assert "orders/incoming/2024-01-01.ndjson" in bucket.listing()
    remembered = json.loads(
        (root / ".interlace/streams/adapters/landing_orders.files.json").read_text()
    )["files"]
    assert sorted(remembered) == [
        f"landing:orders/incoming/2024-01-0{day}.ndjson" for day in (1, 2, 4)
    ]
    assert {entry["status"] for entry in remembered.values()} == {"done"}


def test_delete_removes_files_and_a_bad_file_is_reported_not_retried(
    tmp_path: Path, s3: S3Server
) -> None:
    bucket = Bucket(s3)
    root = _project(tmp_path / "project", bucket)
    bucket.put("orders/incoming/a.ndjson", _ndjson(1))
    bucket.put("orders/incoming/b.ndjson", '{"id": 2}\nnot json\n')

    async def scenario() -> None:
        adapter = build_adapter(_config(delete=True), project=load_project(root))
        async with open_publisher(tmp_path / "logs", stream_info("orders")) as publisher:
            async with running(adapter, publisher):
                await eventually(lambda: adapter.counters["acked"] == 1)
                await eventually(lambda: adapter.counters["rejected"] == 1)
                await asyncio.sleep(0.3)
                assert adapter.counters["received"] == 2  # the bad file is not read again
            assert [event for _, event in stored(publisher, "orders")] == [{"id": 1}]
        error = adapter.health().last_error or ""
        assert "orders/incoming/b.ndjson" in error and "line 2" in error, error
        # the ingested file is deleted, the bad one is left for a person to look at
        assert bucket.listing() == ["orders/incoming/b.ndjson"]

    asyncio.run(scenario())


def test_kill_between_publish_and_remembering_publishes_the_file_once(
    tmp_path: Path, s3: S3Server
) -> None:
    bucket = Bucket(s3)
    # the subprocess loads the project from the folder above its log folder
    _project(tmp_path, bucket)
    bucket.put("orders/incoming/big.ndjson", _ndjson(*range(50)))
    config = _config(batch_size=20)
    run_in_process(tmp_path, config, expect=50, fault="after_publish_before_ack")
    assert len(stored_on_disk(tmp_path / "logs", "orders")) == 20  # the first batch, then death
    assert not (tmp_path / ".interlace/streams/adapters/landing_orders.files.json").exists()
    report = run_in_process(tmp_path, config, expect=50, expect_acked=1)
    assert report is not None
    events = stored_on_disk(tmp_path / "logs", "orders")
    assert sorted(event["id"] for _, event in events) == list(range(50))
    assert report["duplicates"] == 20


def test_an_unknown_connection_or_a_missing_bucket_shows_down_naming_it(
    tmp_path: Path, s3: S3Server
) -> None:
    bucket = Bucket(s3)
    root = _project(tmp_path / "project", bucket)
    project = load_project(root)

    async def down(config: dict[str, Any]) -> str:
        adapter = build_adapter(config, project=project)
        async with (
            open_publisher(tmp_path / "logs", stream_info("orders")) as publisher,
            running(adapter, publisher),
        ):
            await eventually(lambda: adapter.counters["reconnects"] >= 2)
        assert adapter.health().state == "down"
        return adapter.health().last_error or ""

    fast = {"backoff_initial": 0.02, "backoff_max": 0.05}
    assert "no connection called 'nowhere'" in asyncio.run(
        down(_config(connection="nowhere", **fast))
    )
    bucket.client.delete_bucket(Bucket=bucket.name)
    assert bucket.name in asyncio.run(down(_config(**fast)))
