"""Durability under failure: a kill -9 of the server during a publish storm loses no 2xx'd
event and stores none twice; a torn write is cut off at restart; a log that cannot be written
answers 503, never 2xx."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from interlace_http.testing import ServedApp

if TYPE_CHECKING:
    import pytest
    from conftest import Eventually, ReadRows
    from interlace.testing import ProjectFolder

STREAM = {
    "models/events.py": """
        from interlace_stream import stream

        clicks = stream("clicks", fields={"n": "int64", "page": "string"})
    """
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(folder: ProjectFolder, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from interlace_stream.cli import main; main()",
            "serve",
            "--project",
            str(folder.root),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {process.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the server did not start within 60 s")


def _post(port: int, key: str, event: dict[str, object]) -> int | None:
    """The status of one publish, or None when the connection broke (outcome unknown)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/streams/clicks",
        data=json.dumps(event).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return None


def test_kill_9_during_a_publish_storm_loses_no_acknowledged_event_and_stores_none_twice(
    project: ProjectFolder, eventually: Eventually, read_rows: ReadRows
) -> None:
    project.write(STREAM)
    port = _free_port()
    server = _start_server(project, port)
    acknowledged: set[str] = set()
    unknown: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def client(number: int) -> None:
        for i in range(100_000):
            if stop.is_set():
                return
            key = f"c{number}-{i}"
            status = _post(port, key, {"n": i, "page": f"/p/{number}"})
            with lock:
                (acknowledged if status == 200 else unknown).add(key)
            if status is None:
                return

    clients = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in clients:
        thread.start()
    eventually(lambda: len(acknowledged) >= 300, timeout=60)
    server.send_signal(signal.SIGKILL)  # mid-storm: requests in flight die with it
    server.wait(timeout=30)
    stop.set()
    for thread in clients:
        thread.join(timeout=30)
    assert acknowledged
    # restart: the log is recovered and committed; clients retry what they did not hear back
    server = _start_server(project, port)
    try:
        for key in sorted(unknown):
            client_number, i = key[1:].split("-")
            assert _post(port, key, {"n": int(i), "page": f"/p/{client_number}"}) == 200
        for key in sorted(acknowledged)[:50]:  # a retry of an acknowledged one: no new row
            client_number, i = key[1:].split("-")
            assert _post(port, key, {"n": int(i), "page": f"/p/{client_number}"}) == 200
    finally:
        server.send_signal(signal.SIGTERM)  # a clean stop commits what is left
        server.wait(timeout=60)
    stored = read_rows(project, "select _stream_event_id, count(*) from main.clicks group by 1")
    counts: dict[str, int] = dict(stored)
    assert acknowledged <= set(counts), sorted(acknowledged - set(counts))[:10]
    assert set(counts) == acknowledged | unknown
    assert all(count == 1 for count in counts.values()), [k for k, c in counts.items() if c > 1]


def test_a_torn_write_at_the_end_of_the_log_is_cut_off_and_never_served(
    project: ProjectFolder, eventually: Eventually, read_rows: ReadRows
) -> None:
    from interlace_stream.log import StreamLog, encode

    project.write(STREAM)
    folder = project.root / ".interlace" / "streams" / "clicks"
    log = StreamLog(folder)
    log.open()
    log.append([("a", b'{"n": 1}', time.time()), ("b", b'{"n": 2}', time.time())])
    log.close()
    segment = next(folder.glob("*.seg"))
    whole = encode(2, time.time(), "c", b'{"n": 3}')
    with segment.open("ab") as handle:
        handle.write(whole[: len(whole) - 3])  # the crash came mid-record
    size_before = segment.stat().st_size
    from interlace_stream.server import create_stream_app

    with ServedApp(create_stream_app(project.load())) as app:
        assert segment.stat().st_size == size_before - (len(whole) - 3)
        reply = app.call("POST", "/api/v1/streams/clicks", json={"n": 4})
        assert reply.status == 200 and reply.json["first_offset"] == 2, reply
        rows = eventually(
            lambda: (
                read_rows(project, "select count(*) from main.clicks") == [(3,)]
                and read_rows(project, "select n, _stream_offset from main.clicks order by 2")
            )
        )
    assert rows == [(1, 0), (2, 1), (4, 2)]


def test_a_record_with_a_bad_checksum_ends_the_log_there(tmp_path: Path) -> None:
    from interlace_stream.log import LogReader, StreamLog

    log = StreamLog(tmp_path / "s")
    log.open()
    log.append([(str(i), b'{"n": %d}' % i, time.time()) for i in range(3)])
    log.close()
    segment = next((tmp_path / "s").glob("*.seg"))
    data = bytearray(segment.read_bytes())
    data[-2] ^= 0xFF  # a flipped bit inside the last record
    segment.write_bytes(bytes(data))
    reopened = StreamLog(tmp_path / "s")
    recovery = reopened.open()
    assert recovery.next_offset == 2 and recovery.truncated_bytes > 0
    assert [r.event_id for r in LogReader(reopened).read(0)] == ["0", "1"]
    reopened.close()


def test_an_unwritable_log_answers_503_and_stores_nothing(
    project: ProjectFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interlace_stream.server import create_stream_app

    project.write(STREAM)
    with ServedApp(create_stream_app(project.load())) as app:
        monkeypatch.setenv("INTERLACE_STREAM_LOG_FAULT", "enospc")
        full = app.call("POST", "/api/v1/streams/clicks", json={"n": 1})
        assert full.status == 503, full
        assert "No space left on device" in full.json["error"]["message"]
        assert "nothing of this request was stored" in full.json["error"]["message"]
        monkeypatch.delenv("INTERLACE_STREAM_LOG_FAULT")
        ok = app.call("POST", "/api/v1/streams/clicks", json={"n": 2})
        assert ok.status == 200 and ok.json["first_offset"] == 0, ok


def test_a_log_folder_that_cannot_be_created_answers_503(project: ProjectFolder) -> None:
    from interlace_stream.server import create_stream_app

    project.write(STREAM)
    blocker = project.root / "not_a_folder"
    blocker.write_text("a file where the log folder should be")
    project.write(
        {
            "config.yaml": (project.root / "config.yaml").read_text()
            + "  log_dir: not_a_folder/streams\n"
        }
    )
    with ServedApp(create_stream_app(project.load())) as app:
        reply = app.call("POST", "/api/v1/streams/clicks", json={"n": 1})
        assert reply.status == 503, reply
        assert "not_a_folder" in reply.json["error"]["message"]
    assert os.path.isfile(blocker)


def test_the_reader_reads_a_segment_in_bounded_chunks(tmp_path: Path) -> None:
    from interlace_stream.log import LogReader, StreamLog

    log = StreamLog(tmp_path / "s")
    log.open()
    log.append(
        [(f"id-{i}", b'{"n": %d, "pad": "%s"}' % (i, b"x" * 50), time.time()) for i in range(500)]
    )
    log.append([("big", b'{"pad": "%s"}' % (b"y" * 5000), time.time())])  # larger than a chunk
    reader = LogReader(log, chunk=1024)
    first = reader.read(0, limit=120)
    rest = reader.read(first[-1].offset + 1, limit=10_000)
    assert [r.offset for r in first + rest] == list(range(501))
    assert rest[-1].event_id == "big" and len(rest[-1].payload) > 5000
    assert [r.offset for r in LogReader(log, chunk=700).read(250, limit=3)] == [250, 251, 252]
    log.close()
