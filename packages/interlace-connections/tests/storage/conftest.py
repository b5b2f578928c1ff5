"""Real servers for the storage connection tests, started in-process on loopback.

- S3: moto's ``ThreadedMotoServer`` on 127.0.0.1 (random port), spoken to over HTTP by boto3 and
  by DuckDB's httpfs. Authentication is switched on: requests must be signed with the keys of
  an IAM user the fixture creates, so wrong credentials are really refused.
- SFTP: an asyncssh server on 127.0.0.1 (random port) with a freshly generated host key,
  password login and a chroot folder per test.

Nothing here skips: when a server cannot start, the tests fail.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from interlace.plugins import open_storage
from interlace.testing import ProjectFolder
from interlace.testing.s3 import REGION, S3Server
from interlace.testing.s3 import s3_server as shared_s3_server
from interlace_connections.storage import Storage

# --------------------------------------------------------------------------------------- S3


@pytest.fixture(scope="session")
def s3_server() -> S3Server:
    return shared_s3_server()


@pytest.fixture(autouse=True)
def _no_ambient_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials come only from what a test configures (never from the machine)."""
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("INTERLACE_ENV", raising=False)


# --------------------------------------------------------------------------------------- SFTP


class _Loop:
    """An asyncio event loop in a daemon thread (the SFTP servers live on it)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="session")
def ssh_loop() -> Iterator[_Loop]:
    loop = _Loop()
    yield loop
    loop.close()


@dataclass
class SFTPServer:
    host: str
    port: int
    root: Path
    user: str
    password: str
    host_key: str  # "ssh-ed25519 AAAA..." as known_hosts and `host_key` want it
    known_hosts: Path
    key_file: Path  # the client's private key (passphrase "open sesame"), accepted for alice
    connections: set[Any] = field(default_factory=set)

    def known_hosts_line(self, key: str | None = None) -> str:
        return f"[{self.host}]:{self.port} {key or self.host_key}\n"


@pytest.fixture
def sftp_server(ssh_loop: _Loop, tmp_path: Path) -> Iterator[SFTPServer]:
    import asyncssh

    root = tmp_path / "sftp-root"
    root.mkdir()
    key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_public = client_key.export_public_key("openssh")
    client_key_file = tmp_path / "id_ed25519"
    client_key.write_private_key(
        str(client_key_file), passphrase="open sesame", rounds=4, ignore_few_rounds=True
    )
    connections: set[Any] = set()

    class Server(asyncssh.SSHServer):  # type: ignore[misc]
        def connection_made(self, conn: Any) -> None:
            self.conn = conn
            connections.add(conn)

        def connection_lost(self, exc: Exception | None) -> None:
            connections.discard(self.conn)

        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            return username == "alice" and password == "wonderland"

        def public_key_auth_supported(self) -> bool:
            return True

        def validate_public_key(self, username: str, key: Any) -> bool:
            return bool(username == "alice" and key.export_public_key("openssh") == client_public)

    class ChrootSFTP(asyncssh.SFTPServer):  # type: ignore[misc]
        def __init__(self, chan: Any) -> None:
            super().__init__(chan, chroot=str(root))

    async def start() -> Any:
        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[key],
            server_factory=Server,
            sftp_factory=ChrootSFTP,
        )

    listener = ssh_loop.run(start())
    port = listener.sockets[0].getsockname()[1]
    public = key.export_public_key("openssh").decode().split()
    known_hosts = tmp_path / "known_hosts"
    server = SFTPServer(
        host="127.0.0.1",
        port=port,
        root=root,
        user="alice",
        password="wonderland",
        host_key=f"{public[0]} {public[1]}",
        known_hosts=known_hosts,
        key_file=client_key_file,
        connections=connections,
    )
    known_hosts.write_text(server.known_hosts_line(), encoding="utf-8")
    yield server

    async def stop() -> None:
        for conn in list(connections):  # close clients first, then the listener
            conn.close()
            await conn.wait_closed()
        listener.close()
        await listener.wait_closed()

    ssh_loop.run(stop())


@pytest.fixture
def other_key() -> str:
    """Another host's public key (not the test server's)."""
    import asyncssh

    public = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode()
    kind, data = public.split()[:2]
    return f"{kind} {data}"


# --------------------------------------------------------------------------------------- ports


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (connecting is refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


# --------------------------------------------------------------------------------------- configs


@pytest.fixture
def storage_config(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """``storage_config(kind, **overrides)``: the config mapping of a storage connection of
    ``kind`` on a fresh location (a folder, the SFTP server's chroot, a new bucket)."""

    def make(kind: str, **overrides: Any) -> dict[str, Any]:
        if kind == "filesystem":
            config: dict[str, Any] = {"type": "filesystem", "path": str(tmp_path / "landing")}
        elif kind == "sftp":
            server: SFTPServer = request.getfixturevalue("sftp_server")
            config = {
                "type": "sftp",
                "host": server.host,
                "port": server.port,
                "user": server.user,
                "password": server.password,
                "known_hosts": str(server.known_hosts),
                "path": "/base",
                "connect_timeout": 5,
                "timeout": 10,
            }
        elif kind == "s3":
            s3: S3Server = request.getfixturevalue("s3_server")
            config = {
                "type": "s3",
                "bucket": s3.new_bucket(),
                "prefix": "base/",
                "endpoint_url": s3.endpoint,
                "region": REGION,
                "access_key_id": s3.key_id,
                "secret_access_key": s3.secret,
                "connect_timeout": 5,
                "read_timeout": 10,
                "retries": 1,
            }
        else:
            raise AssertionError(kind)
        config.update(overrides)
        return config

    return make


class StorageProject(ProjectFolder):
    """A project with a DuckDB ``default`` connection plus storage connections."""

    def __init__(self, root: Path, connections: Mapping[str, Mapping[str, Any]]) -> None:
        super().__init__(root)
        config = {
            "name": "storage_test",
            "connections": {
                "default": {"type": "duckdb", "path": "data/{env}.duckdb"},
                **{name: dict(value) for name, value in connections.items()},
            },
            "executor": {"max_workers": 4},
        }
        (self.root / "models").mkdir(parents=True, exist_ok=True)
        self.write({"config.yaml": yaml.safe_dump(config)})

    def storage(self, name: str) -> Storage:
        project = self.load()
        storage = open_storage(project.config, name, project.root)
        assert isinstance(storage, Storage)
        return storage


@pytest.fixture
def storage_project(tmp_path: Path) -> Any:
    """``storage_project({name: connection config})`` -> a :class:`StorageProject`."""
    counter = iter(range(1000))

    def make(connections: Mapping[str, Mapping[str, Any]]) -> StorageProject:
        return StorageProject(tmp_path / f"project{next(counter)}", connections)

    return make


# --------------------------------------------------------------------------------------- data


def _data_file(file_format: str, rows: list[tuple[Any, ...]]) -> bytes:
    import tempfile

    values = ", ".join(f"({i}, '{n}', {a})" for i, n, a in rows)
    with tempfile.TemporaryDirectory() as folder, duckdb.connect() as con:
        path = Path(folder) / f"data.{file_format}"
        con.execute(
            "COPY (SELECT id::BIGINT AS id, name, amount::DOUBLE AS amount "
            f"FROM (VALUES {values}) AS t(id, name, amount)) "
            f"TO '{path}' (FORMAT {file_format})"
        )
        return path.read_bytes()


@pytest.fixture
def make_data() -> Any:
    """``make_data(format, rows)``: the bytes of a CSV, Parquet or NDJSON file of
    ``(id, name, amount)`` rows."""
    return _data_file
