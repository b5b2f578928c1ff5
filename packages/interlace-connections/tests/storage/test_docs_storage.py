"""The storage sections of docs/connections.md are valid and their examples run as written
(pointed at the test servers instead of the real hosts)."""

from __future__ import annotations

import re
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from interlace.config import load_config
from interlace_connections.storage.config import (
    FilesystemConnectionConfig,
    S3ConnectionConfig,
    SFTPConnectionConfig,
)

DOC = Path(__file__).resolve().parents[4] / "docs" / "connections.md"


def section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## Storage connections")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), re.S)


def test_the_config_example_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIO_ACCESS_KEY", "minio-key")
    monkeypatch.setenv("MINIO_SECRET_KEY", "minio-secret")
    [example] = blocks("yaml")
    (tmp_path / "config.yaml").write_text(example, encoding="utf-8")
    connections = load_config(tmp_path).config.connections
    assert isinstance(connections["landing"], FilesystemConnectionConfig)
    partner = connections["partner"]
    assert isinstance(partner, SFTPConnectionConfig)
    assert partner.key_file == "~/.ssh/id_ed25519" and partner.host_key_checking == "strict"
    lake, minio = connections["lake"], connections["minio"]
    assert isinstance(lake, S3ConnectionConfig) and isinstance(minio, S3ConnectionConfig)
    assert lake.prefix == "raw/" and not lake.uses_path_style
    assert minio.secret_access_key == "minio-secret" and minio.uses_path_style


def test_the_examples_run_against_real_servers(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    s3_server: Any,
    sftp_server: Any,
    storage_project: Any,
) -> None:
    """The doc's config and models, with hosts, keys and buckets swapped for the test servers."""
    config = yaml.safe_load(blocks("yaml")[0])["connections"]
    del config["default"]
    lake_bucket, minio_bucket = s3_server.new_bucket(), s3_server.new_bucket()
    config["lake"].update(
        bucket=lake_bucket,
        endpoint_url=s3_server.endpoint,
        access_key_id=s3_server.key_id,
        secret_access_key=s3_server.secret,
    )
    config["minio"].update(bucket=minio_bucket, endpoint_url=s3_server.endpoint)
    monkeypatch.setenv("MINIO_ACCESS_KEY", s3_server.key_id)
    monkeypatch.setenv("MINIO_SECRET_KEY", s3_server.secret)
    config["partner"].update(
        host=sftp_server.host,
        port=sftp_server.port,
        user=sftp_server.user,
        key_file=str(sftp_server.key_file),
        key_password="open sesame",
        known_hosts=str(sftp_server.known_hosts),
    )
    project = storage_project(config)
    python = blocks("python")
    project.write(
        {
            "models/orders.py": python[0],
            "models/inbox.py": "from interlace import model\n\n" + textwrap.dedent(python[1]),
            "models/exported.py": """
                from interlace import model

                @model(export={"format": "parquet", "connection": "minio", "path": "{name}.parquet"})
                def exported(orders):
                    return orders
            """,
        }
    )
    with project.storage("lake") as lake:
        lake.write_bytes("orders/2024/a.parquet", orders_file(1, "paid"))
        lake.write_bytes("orders/2025/b.parquet", orders_file(2, "test"))
    with project.storage("partner") as partner:
        partner.write_text("prices/p.txt", "sku;price\na;1.5\n")
        partner.write_text("inbox/x.csv", "a,b\n")
    project.run_ok()
    assert project.values("main.orders") == [(1, "paid")]
    assert project.values("main.partner_prices") == [("a", 1.5)]
    assert project.values("main.inbox") == [("inbox/x.csv", 4)]
    with project.storage("minio") as minio:
        assert minio.list() == ["exported.parquet"]
        assert s3_server.client().head_object(Bucket=minio_bucket, Key="exported.parquet")


def orders_file(order_id: int, status: str) -> bytes:
    with tempfile.TemporaryDirectory() as folder, duckdb.connect() as con:
        path = Path(folder) / "o.parquet"
        con.execute(
            f"COPY (SELECT {order_id}::BIGINT AS order_id, '{status}' AS status) TO '{path}'"
        )
        return path.read_bytes()
