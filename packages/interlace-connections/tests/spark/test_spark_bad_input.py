"""Bad input on a spark connection: each fails quickly, naming the connection and what to do.

These start no Spark of their own (the checks come before the JVM), so they are cheap."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from interlace.errors import InterlaceConnectionError
from interlace.testing import ProjectFolder

INTERLACE = str(Path(sys.executable).parent / "interlace")


def project_with(root: Path, connection: str) -> ProjectFolder:
    config = f"name: bad\nconnections:\n  default:\n    type: spark\n{connection}"
    return ProjectFolder.create(root, config=config).write({"models/one.sql": "SELECT 1 AS id"})


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(project: ProjectFolder, env: dict[str, str] | None = None) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [INTERLACE, "run"],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def test_missing_java_names_the_connection_and_what_to_install(tmp_path: Path) -> None:
    project = project_with(tmp_path, "    master: local[1]\n")
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(Path(sys.executable).parent)  # the venv's tools, no java
    code, output, took = run_cli(project, env)
    assert code != 0
    assert "connection 'default' (type spark)" in output
    assert "Java" in output and "openjdk-17-jre-headless" in output
    assert "Traceback" not in output
    assert took < 60


def test_unreachable_master_fails_within_the_timeout(tmp_path: Path) -> None:
    port = closed_port()
    project = project_with(
        tmp_path, f"    master: spark://127.0.0.1:{port}\n    connect_timeout: 3\n"
    )
    code, output, took = run_cli(project)
    assert code != 0
    assert f"nothing answers at spark://127.0.0.1:{port}" in output
    assert "connection 'default' (type spark)" in output
    assert took < 60


def test_spark_connect_url_checks_extras_then_the_server(tmp_path: Path) -> None:
    from interlace.opening import open_engines

    port = closed_port()
    project = project_with(tmp_path, f"    remote: sc://127.0.0.1:{port}\n    connect_timeout: 3\n")
    engine = open_engines(project.load(), ["default"])["default"]
    started = time.monotonic()
    with pytest.raises(InterlaceConnectionError) as caught:
        engine.session()
    assert time.monotonic() - started < 30
    text = str(caught.value)
    assert "connection 'default' (type spark)" in text
    try:
        import grpc  # noqa: F401
    except ImportError:  # without pyspark[connect] the error says what to install
        assert "pyspark[connect]" in text
    else:
        assert f"nothing answers at sc://127.0.0.1:{port}" in text


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        ("    master: local[2]\n    remote: sc://h:15002\n", "either `master`"),
        ("    master: lokal\n", "(got 'lokal')"),
        ("    remote: http://h:15002\n", "use sc://host:15002"),
        ("    master: local[2]\n    catalog: derby\n", "catalog"),
    ],
)
def test_bad_config_names_the_field(tmp_path: Path, connection: str, message: str) -> None:
    from interlace.errors import InterlaceError

    project = project_with(tmp_path, connection)
    with pytest.raises(InterlaceError) as caught:
        project.load()
    assert message in str(caught.value)


def test_the_docs_spark_example_is_valid(tmp_path: Path) -> None:
    import re

    from interlace.config import load_config
    from interlace_connections.spark.config import SparkConnectionConfig

    doc = Path(__file__).resolve().parents[4] / "docs" / "connections.md"
    section = doc.read_text(encoding="utf-8").split("## Apache Spark", 1)[1]
    example = re.findall(r"```yaml\n(.*?)```", section, re.S)[0]
    (tmp_path / "config.yaml").write_text(example, encoding="utf-8")
    cluster = load_config(tmp_path).config.connections["cluster"]
    assert isinstance(cluster, SparkConnectionConfig)
    assert cluster.settings()["spark.sql.execution.arrow.pyspark.enabled"] == "true"
    assert cluster.settings()["spark.sql.shuffle.partitions"] == "8"
