"""Bad input fails fast with an error that names the connection and says what to fix."""

from __future__ import annotations

import time
from typing import Any

import pytest
from interlace.errors import ConfigError
from interlace_connections.storage import StorageConnectionError, StorageError

# ------------------------------------------------------------------------------------ S3


def test_s3_missing_bucket(storage_config: Any, storage_project: Any, s3_server: Any) -> None:
    config = storage_config("s3", bucket="no-such-bucket")
    storage = storage_project({"lake": config}).storage("lake")
    for attempt in (
        lambda: storage.list(),
        lambda: storage.read_bytes("x.csv"),
        lambda: storage.write_bytes("x.csv", b"1"),
        storage.ping,
    ):
        with pytest.raises(StorageConnectionError, match="bucket 'no-such-bucket' does not exist"):
            attempt()


def test_s3_missing_bucket_in_a_model_and_an_export(
    storage_config: Any, storage_project: Any
) -> None:
    project = storage_project({"lake": storage_config("s3", bucket="no-such-bucket")})
    project.write(
        {
            "models/totals.py": """
                from interlace import model

                @model(export={"format": "parquet", "connection": "lake"})
                def totals():
                    return [{"id": 1}]
            """,
            "models/reader.py": """
                from interlace import model

                @model
                def reader(context):
                    return context.read_files("lake", "x/*.csv")
            """,
        }
    )
    result = project.run()
    assert "bucket 'no-such-bucket' does not exist" in (result["totals"].error or "")
    assert "bucket 'no-such-bucket' does not exist" in (result["reader"].error or "")


@pytest.mark.parametrize(
    ("key_id", "code"),
    [(None, "SignatureDoesNotMatch"), ("AKIAWRONGWRONGWRONG1", "InvalidAccessKeyId")],
)
def test_s3_wrong_credentials(
    storage_config: Any, storage_project: Any, s3_server: Any, key_id: str | None, code: str
) -> None:
    config = storage_config("s3")
    s3_server.client().put_object(Bucket=config["bucket"], Key="base/x.csv", Body=b"a\n1\n")
    config.update(secret_access_key="wrong-secret")
    if key_id:
        config["access_key_id"] = key_id
    storage = storage_project({"lake": config}).storage("lake")
    with pytest.raises(StorageConnectionError, match=f"S3 refused .*{code}") as caught:
        storage.list()
    assert "connection 'lake'" in caught.value.message
    assert "secret_access_key" in (caught.value.hint or "")
    with pytest.raises(StorageConnectionError, match="S3 refused"):
        storage.read_bytes("x.csv")


def test_s3_wrong_credentials_when_the_engine_reads_and_exports(
    storage_config: Any, storage_project: Any, s3_server: Any
) -> None:
    config = storage_config("s3")
    s3_server.client().put_object(Bucket=config["bucket"], Key="base/x.csv", Body=b"a\n1\n")
    project = storage_project({"lake": {**config, "secret_access_key": "wrong-secret"}})
    project.write(
        {
            "models/reader.py": """
                from interlace import model

                @model
                def reader(context):
                    return context.read_files("lake", "x.csv")
            """,
            "models/totals.py": """
                from interlace import model

                @model(export={"format": "csv", "connection": "lake"})
                def totals():
                    return [{"id": 1}]
            """,
        }
    )
    result = project.run()
    for name in ("reader", "totals"):
        assert "S3 refused the request" in (result[name].error or ""), name
        assert "connection 'lake'" in (result[name].error or "")


def test_s3_credentials_from_the_standard_environment_variables(
    storage_config: Any, storage_project: Any, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = storage_config("s3")
    del config["access_key_id"], config["secret_access_key"], config["region"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    project = storage_project({"lake": config})
    with project.storage("lake") as lake:
        lake.write_bytes("in/a.csv", b"id\n7\n")
        assert lake.list() == ["in/a.csv"]
    project.write(
        {
            "models/a.py": """
                from interlace import model

                @model(export={"format": "json", "connection": "lake", "path": "out/a.json"})
                def a(context):
                    return context.read_files("lake", "in/*.csv")
            """
        }
    )
    project.run_ok()
    assert project.values("main.a") == [(7,)]
    with project.storage("lake") as lake:
        assert lake.read_text("out/a.json").strip() == '{"id":7}'


def test_s3_unreachable_endpoint_fails_fast(
    storage_config: Any, storage_project: Any, closed_port: int
) -> None:
    config = storage_config("s3", endpoint_url=f"http://127.0.0.1:{closed_port}")
    storage = storage_project({"lake": config}).storage("lake")
    started = time.monotonic()
    with pytest.raises(StorageConnectionError, match="connection 'lake': cannot reach http"):
        storage.list()
    assert time.monotonic() - started < 5


def test_s3_silent_endpoint_is_bounded_by_the_read_timeout(
    storage_config: Any, storage_project: Any, silent_port: int
) -> None:
    config = storage_config(
        "s3", endpoint_url=f"http://127.0.0.1:{silent_port}", read_timeout=1, retries=0
    )
    storage = storage_project({"lake": config}).storage("lake")
    started = time.monotonic()
    with pytest.raises(StorageConnectionError, match=r"did not answer within 1s"):
        storage.read_bytes("x.csv")
    assert time.monotonic() - started < 5


def test_s3_config_errors_name_the_key(storage_project: Any, tmp_path: Any) -> None:
    for bad, message in (
        ({"type": "s3", "bucket": "acme/raw"}, "give the bucket name only"),
        ({"type": "s3", "bucket": "acme", "access_key_id": "x"}, "give both `access_key_id`"),
        ({"type": "s3"}, "connections.lake.bucket: missing required key 'bucket'"),
        ({"type": "s3", "bucket": "acme", "regoin": "x"}, "did you mean 'region'"),
    ):
        with pytest.raises(ConfigError, match=message):
            storage_project({"lake": bad}).load()


# ------------------------------------------------------------------------------------ SFTP


def test_sftp_host_key_mismatch_is_refused(
    storage_config: Any, storage_project: Any, sftp_server: Any, other_key: str
) -> None:
    sftp_server.known_hosts.write_text(sftp_server.known_hosts_line(other_key))
    storage = storage_project({"partner": storage_config("sftp")}).storage("partner")
    with pytest.raises(StorageConnectionError, match="HOST KEY MISMATCH") as caught:
        storage.list()
    assert "connection 'partner'" in caught.value.message
    assert "ssh-keygen -R" in (caught.value.hint or "")


def test_sftp_pinned_host_key_mismatch_is_refused(
    storage_config: Any, storage_project: Any, other_key: str
) -> None:
    config = storage_config("sftp", host_key=other_key)
    del config["known_hosts"]
    storage = storage_project({"partner": config}).storage("partner")
    with pytest.raises(StorageConnectionError, match="HOST KEY MISMATCH"):
        storage.ping()


def test_sftp_pinned_host_key_is_enough(
    storage_config: Any, storage_project: Any, sftp_server: Any, tmp_path: Any
) -> None:
    config = storage_config(
        "sftp", host_key=sftp_server.host_key, known_hosts=str(tmp_path / "empty_hosts")
    )
    (tmp_path / "empty_hosts").write_text("")
    with storage_project({"partner": config}).storage("partner") as storage:
        storage.write_bytes("x.txt", b"pinned")
        assert (sftp_server.root / "base" / "x.txt").read_bytes() == b"pinned"


def test_sftp_unknown_host_is_refused_unless_accept_new(
    storage_config: Any, storage_project: Any, sftp_server: Any
) -> None:
    sftp_server.known_hosts.write_text("")
    strict = storage_project({"partner": storage_config("sftp")}).storage("partner")
    with pytest.raises(StorageConnectionError, match="is not known") as caught:
        strict.ping()
    assert "ssh-keyscan" in (caught.value.hint or "")

    config = storage_config("sftp", host_key_checking="accept_new")
    with storage_project({"partner": config}).storage("partner") as storage:
        storage.ping()
    assert sftp_server.host_key.split()[1] in sftp_server.known_hosts.read_text()
    with strict:  # the recorded key now lets a strict connection in
        strict.ping()


def test_sftp_login_with_a_key_file(
    storage_config: Any, storage_project: Any, sftp_server: Any
) -> None:
    config = storage_config("sftp", key_file=str(sftp_server.key_file), key_password="open sesame")
    del config["password"]
    with storage_project({"partner": config}).storage("partner") as storage:
        storage.write_bytes("k.txt", b"by key")
        assert storage.list() == ["k.txt"]
    for key_password, problem in (("wrong", "wrong `key_password`"), (None, "it is encrypted")):
        bad = {**config, "key_password": key_password}
        with pytest.raises(StorageConnectionError, match=f"cannot load key file .*{problem}"):
            storage_project({"partner": bad}).storage("partner").ping()
    bad = {**config, "key_file": "missing_key"}
    with pytest.raises(StorageConnectionError, match=r"cannot load key file .*missing_key"):
        storage_project({"partner": bad}).storage("partner").ping()


def test_sftp_wrong_password(storage_config: Any, storage_project: Any) -> None:
    storage = storage_project({"partner": storage_config("sftp", password="guess")}).storage(
        "partner"
    )
    with pytest.raises(StorageConnectionError, match=r"login to SFTP server .* as alice failed"):
        storage.list()


def test_sftp_unreachable_host_fails_fast(
    storage_config: Any, storage_project: Any, closed_port: int
) -> None:
    storage = storage_project({"partner": storage_config("sftp", port=closed_port)}).storage(
        "partner"
    )
    started = time.monotonic()
    with pytest.raises(StorageConnectionError, match="connection 'partner': cannot reach"):
        storage.list()
    assert time.monotonic() - started < 5


def test_sftp_silent_server_is_bounded_by_the_connect_timeout(
    storage_config: Any, storage_project: Any, silent_port: int
) -> None:
    config = storage_config("sftp", port=silent_port, connect_timeout=1)
    storage = storage_project({"partner": config}).storage("partner")
    started = time.monotonic()
    with pytest.raises(StorageConnectionError, match="did not answer within 1s"):
        storage.ping()
    assert time.monotonic() - started < 5


def test_sftp_failure_in_a_model_names_the_connection(
    storage_config: Any, storage_project: Any, sftp_server: Any, other_key: str
) -> None:
    sftp_server.known_hosts.write_text(sftp_server.known_hosts_line(other_key))
    project = storage_project({"partner": storage_config("sftp")})
    project.write(
        {
            "models/orders.py": """
                from interlace import model

                @model
                def orders(context):
                    return context.read_files("partner", "*.csv")
            """
        }
    )
    result = project.run()
    assert result["orders"].status == "failed"
    assert "connection 'partner': HOST KEY MISMATCH" in (result["orders"].error or "")


def test_sftp_config_needs_a_credential(storage_project: Any) -> None:
    with pytest.raises(ConfigError, match="give `password` or `key_file`"):
        storage_project({"partner": {"type": "sftp", "host": "h", "user": "u"}}).load()
    with pytest.raises(ConfigError, match="host_key_checking"):
        storage_project(
            {
                "partner": {
                    "type": "sftp",
                    "host": "h",
                    "user": "u",
                    "password": "p",
                    "host_key_checking": "maybe",
                }
            }
        ).load()


def test_storage_errors_are_interlace_errors() -> None:
    assert issubclass(StorageConnectionError, StorageError)
