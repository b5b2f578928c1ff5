"""Connection problems fail fast, name the connection and say what to fix (SPEC §7.1, §1.2).

The test server trusts every local client, so it never asks for a password. The wrong-password
test therefore talks to a tiny fake server that speaks just enough of the PostgreSQL protocol to
ask for a password and refuse it (SQLSTATE 28P01), exactly as a real server does.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import interlace
import pytest
from interlace.errors import ConfigError, InterlaceConnectionError


def write_project(root: Path, connection: str) -> Path:
    (root / "models").mkdir(exist_ok=True)
    (root / "models" / "one.sql").write_text("SELECT 1 AS n\n")
    (root / "config.yaml").write_text(
        "name: errors\nconnections:\n  warehouse:\n"
        + "".join(f"    {line}\n" for line in connection.strip().splitlines())
    )
    return root


def run_failing(root: Path) -> tuple[InterlaceConnectionError, float]:
    started = time.perf_counter()
    with pytest.raises(InterlaceConnectionError) as info:
        interlace.run_sync(root)
    return info.value, time.perf_counter() - started


def test_unreachable_port_fails_fast_naming_the_connection(tmp_path: Path) -> None:
    root = write_project(tmp_path, "type: postgres\nhost: 127.0.0.1\nport: 1\ndatabase: x")
    error, elapsed = run_failing(root)
    assert elapsed < 5
    assert "connection 'warehouse': cannot connect to PostgreSQL at 127.0.0.1:1/x" in str(error)
    assert "refused" in error.message
    assert error.hint and "host" in error.hint


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def test_a_server_that_does_not_answer_fails_after_connect_timeout(
    tmp_path: Path, silent_server: int
) -> None:
    root = write_project(
        tmp_path,
        f"type: postgres\nhost: 127.0.0.1\nport: {silent_server}\ndatabase: x\nconnect_timeout: 2",
    )
    error, elapsed = run_failing(root)
    assert 1.5 < elapsed < 8
    assert "connection 'warehouse'" in error.message and "timeout" in error.message.lower()


def test_unknown_database_and_unknown_role_are_reported(
    tmp_path: Path, pg_server: dict[str, object]
) -> None:
    for i, (extra, expected) in enumerate(
        (
            ("database: interlace_no_such_db", 'database "interlace_no_such_db" does not exist'),
            ("user: interlace_no_such_role", 'role "interlace_no_such_role" does not exist'),
        )
    ):
        root = tmp_path / str(i)
        root.mkdir()
        server = f"type: postgres\nhost: {pg_server['host']}\nport: {pg_server['port']}"
        write_project(root, f"{server}\n{extra}")
        error, elapsed = run_failing(root)
        assert elapsed < 5
        assert "connection 'warehouse'" in error.message and expected in error.message


def _fake_server_refusing_passwords(server: socket.socket, seen: list[bytes]) -> None:
    conn, _ = server.accept()
    with conn:
        while True:
            length = struct.unpack("!I", _read(conn, 4))[0]
            body = _read(conn, length - 4)
            code = struct.unpack("!I", body[:4])[0]
            if code in (80877103, 80877104):  # SSLRequest / GSSENCRequest: not supported
                conn.sendall(b"N")
                continue
            break  # the startup message
        conn.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
        kind = _read(conn, 1)
        length = struct.unpack("!I", _read(conn, 4))[0]
        seen.append(kind + _read(conn, length - 4))
        fields = (
            b"SFATAL\x00VFATAL\x00C28P01\x00"
            b'Mpassword authentication failed for user "interlace"\x00\x00'
        )
        conn.sendall(b"E" + struct.pack("!I", len(fields) + 4) + fields)


def _read(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


def test_wrong_password_is_reported_with_a_hint(tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    seen: list[bytes] = []
    thread = threading.Thread(target=_fake_server_refusing_passwords, args=(server, seen))
    thread.start()
    try:
        root = write_project(
            tmp_path,
            f"type: postgres\nhost: 127.0.0.1\nport: {port}\ndatabase: db\nuser: interlace\n"
            "password: not-the-password",
        )
        error, elapsed = run_failing(root)
    finally:
        thread.join(5)
        server.close()
    assert elapsed < 5
    assert seen == [b"pnot-the-password\x00"]  # the client did send the configured password
    assert "connection 'warehouse'" in error.message
    assert 'password authentication failed for user "interlace"' in error.message
    assert "not-the-password" not in str(error)
    assert error.hint == "check `password` (and `user`) of this connection"


def test_unknown_and_invalid_keys_are_config_errors(tmp_path: Path) -> None:
    root = write_project(tmp_path, "type: postgres\nhots: db.internal")
    with pytest.raises(ConfigError, match=r"connections\.warehouse\.hots: unknown key 'hots'"):
        interlace.load_project(root)
    root = write_project(tmp_path, "type: postgres\npool_min_size: 5\npool_max_size: 2")
    with pytest.raises(ConfigError, match="pool_min_size"):
        interlace.load_project(root)
