"""The Storage interface behaves the same on a folder, an SFTP server and an S3 bucket."""

from __future__ import annotations

from typing import Any

import pytest
from interlace.errors import ConfigError
from interlace_connections.storage import StorageError, StoragePathError

KINDS = ("filesystem", "sftp", "s3")


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def storage(kind: str, storage_config: Any, storage_project: Any) -> Any:
    project = storage_project({"files": storage_config(kind)})
    with project.storage("files") as storage:
        yield storage


def test_write_then_read_list_glob_exists_and_delete(storage: Any) -> None:
    storage.write_bytes("orders/2024/01.csv", b"id\n1\n")
    storage.write_bytes("orders/2024/02.csv", b"id\n2\n")
    storage.write_text("orders/2025/01.parquet", "not really parquet")
    storage.write_bytes("readme.txt", b"hello")

    assert storage.read_bytes("orders/2024/01.csv") == b"id\n1\n"
    assert storage.read_text("readme.txt") == "hello"
    assert storage.list() == [
        "orders/2024/01.csv",
        "orders/2024/02.csv",
        "orders/2025/01.parquet",
        "readme.txt",
    ]
    assert storage.list("orders/2024/") == ["orders/2024/01.csv", "orders/2024/02.csv"]
    assert storage.list("orders/202") == storage.list("orders/")  # a plain string prefix
    assert storage.list("nothing/") == []
    assert storage.glob("orders/*/*.csv") == ["orders/2024/01.csv", "orders/2024/02.csv"]
    assert storage.glob("orders/*.csv") == []  # '*' stays within one folder
    assert storage.glob("**/*.parquet") == ["orders/2025/01.parquet"]
    assert storage.glob("orders/2024/0[2-9].csv") == ["orders/2024/02.csv"]
    assert storage.glob("readme.txt") == ["readme.txt"]
    assert storage.exists("readme.txt") and not storage.exists("missing.txt")

    storage.delete("readme.txt")
    assert not storage.exists("readme.txt")
    storage.delete("readme.txt", missing_ok=True)
    with pytest.raises(StorageError, match=r"'readme.txt' does not exist"):
        storage.delete("readme.txt")


def test_overwrite_and_streams(storage: Any) -> None:
    storage.write_bytes("a/b.bin", b"old")
    storage.write_bytes("a/b.bin", b"new")
    assert storage.read_bytes("a/b.bin") == b"new"

    big = bytes(range(256)) * 8192  # 2 MiB
    with storage.open("stream/big.bin", "wb") as out:
        for start in range(0, len(big), 100_000):
            out.write(big[start : start + 100_000])
    with storage.open("stream/big.bin") as source:
        head = source.read(10)
        rest = source.read()
    assert head + rest == big
    assert storage.list("stream/") == ["stream/big.bin"]


def test_missing_file_is_a_clear_error(storage: Any) -> None:
    with pytest.raises(StorageError, match=r"connection 'files': file 'nope/x.csv' does not"):
        storage.read_bytes("nope/x.csv")


@pytest.mark.parametrize("path", ["../escape.txt", "a/../../escape.txt", "/etc/passwd"])
def test_paths_outside_the_base_folder_are_refused(storage: Any, path: str) -> None:
    with pytest.raises(StoragePathError, match="connection 'files'"):
        storage.write_bytes(path, b"x")
    with pytest.raises(StoragePathError):
        storage.read_bytes(path)
    with pytest.raises(StoragePathError):
        storage.glob(path + "*")


def test_read_only_connection_refuses_every_write(
    kind: str, storage_config: Any, storage_project: Any
) -> None:
    writer = storage_project({"files": storage_config(kind)}).storage("files")
    writer.write_bytes("kept.txt", b"keep me")
    config = storage_config(kind, access="read")
    if kind == "s3":  # the same bucket as the writer
        config["bucket"] = writer.config.bucket
    reader = storage_project({"files": config}).storage("files")
    try:
        assert reader.read_bytes("kept.txt") == b"keep me"
        for attempt in (
            lambda: reader.write_bytes("new.txt", b"x"),
            lambda: reader.open("new.txt", "wb"),
            lambda: reader.delete("kept.txt"),
        ):
            with pytest.raises(StorageError, match=r"read-only \(access: read\)"):
                attempt()
        assert reader.exists("kept.txt")
    finally:
        reader.close()
        writer.close()


def test_a_model_connection_is_not_a_storage(storage_project: Any) -> None:
    project = storage_project({})
    with pytest.raises(ConfigError, match="'default' is a duckdb connection, not a storage"):
        project.storage("default")
    with pytest.raises(ConfigError, match="there is no connection called 'lake'"):
        project.storage("lake")


def test_filesystem_symlink_out_of_the_base_is_refused(
    storage_config: Any, storage_project: Any, tmp_path: Any
) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwords.txt").write_text("hunter2")
    storage = storage_project({"files": storage_config("filesystem")}).storage("files")
    storage.write_bytes("inside.txt", b"ok")
    (storage.base / "link").symlink_to(outside)
    with pytest.raises(StoragePathError, match="leads outside the base folder"):
        storage.read_bytes("link/passwords.txt")


def test_filesystem_base_is_relative_to_the_project(storage_project: Any) -> None:
    project = storage_project({"files": {"type": "filesystem", "path": "landing"}})
    storage = project.storage("files")
    storage.write_bytes("x.txt", b"1")
    assert (project.root / "landing" / "x.txt").read_bytes() == b"1"
    assert storage.url("x.txt") == str(project.root / "landing" / "x.txt")


def test_filesystem_without_create_needs_the_folder(storage_project: Any, tmp_path: Any) -> None:
    project = storage_project(
        {"files": {"type": "filesystem", "path": str(tmp_path / "absent"), "create": False}}
    )
    storage = project.storage("files")
    with pytest.raises(StorageError, match="does not exist"):
        storage.ping()
    with pytest.raises(StorageError, match="does not exist"):
        storage.write_bytes("x.txt", b"1")
