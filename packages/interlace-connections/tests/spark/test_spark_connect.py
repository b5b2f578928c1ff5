"""Spark Connect (``remote: sc://host:port``) against a local Connect server started from the
installed pyspark (its ``spark-submit`` and the Connect server class its jars carry; nothing is
downloaded). A project runs end to end through it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from interlace.testing import ProjectFolder
from interlace.testing.prerequisites import require

from .conftest import require_java

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Spark Connect server (local[1], its own warehouse) for this module; its URL."""
    require_java()
    import pyspark

    home = Path(pyspark.__file__).parent
    jars = list((home / "jars").glob("spark-connect_*.jar"))
    require(
        bool(jars) and (home / "bin" / "spark-submit").exists(),
        "pyspark with its Spark Connect server jar (pyspark[connect] >= 4.0)",
        "install the spark dependency group (pyspark[connect])",
    )
    folder = tmp_path_factory.mktemp("connect_server")
    port = free_port()
    log = (folder / "server.log").open("wb")
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    server = subprocess.Popen(
        [
            str(home / "bin" / "spark-submit"),
            "--class",
            SERVER_CLASS,
            "--master",
            "local[1]",
            "--conf",
            f"spark.connect.grpc.binding.port={port}",
            "--conf",
            "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf",
            f"spark.sql.warehouse.dir={folder / 'warehouse'}",
            "--conf",
            "spark.sql.catalogImplementation=in-memory",
            "--conf",
            "spark.ui.enabled=false",
            "--conf",
            "spark.sql.shuffle.partitions=2",
            "--conf",
            f"spark.driver.extraJavaOptions=-Dderby.system.home={folder}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                text = (folder / "server.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"the Spark Connect server did not start:\n{text}")
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def test_a_project_runs_end_to_end_on_spark_connect(tmp_path: Path, connect_server: str) -> None:
    project = ProjectFolder.create(
        tmp_path / "project",
        config=(
            "name: on_connect\n"
            "connections:\n"
            "  default:\n"
            "    type: spark\n"
            f"    remote: {connect_server}\n"
            "    connect_timeout: 20\n"
        ),
    )
    project.write(
        {
            "models/raw.py": """
                import pyarrow as pa
                from interlace import model

                @model(strategy="merge_by_key", primary_key="id")
                def raw():
                    return pa.table({"id": [1, 2, 3], "s": ["a", None, "c"]})
            """,
            "models/named.sql": "-- @materialize: view\nSELECT id, upper(s) AS s FROM raw",
            "models/counted.sql": "SELECT count(*) AS n, count(s) AS named FROM named",
        }
    )
    first = project.run_ok()
    assert first.models["raw"].rows == 3
    second = project.run_ok(force=True)  # the merge builds a new version from the old one
    assert second.models["raw"].rows == 3
    assert project.sql("SELECT n, named FROM main.counted") == [(3, 2)]
    assert project.sql("SELECT id, s FROM main.named ORDER BY id") == [
        (1, "A"),
        (2, None),
        (3, "C"),
    ]
