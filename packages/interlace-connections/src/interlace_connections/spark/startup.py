"""Starting Spark (local mode, a cluster's master) or reaching a Spark Connect server, with
errors that name the connection and what to install or check.

Every wait is bounded: a master or Connect URL is probed with a TCP connect first (Spark itself
retries an unreachable master for minutes), and Java is looked for before pyspark launches it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from interlace.errors import InterlaceConnectionError

if TYPE_CHECKING:
    from interlace_connections.spark.config import SparkConnectionConfig

# pyspark keeps one JVM (one SparkContext) per process: every Spark connection of the process
# shares it. The Spark this module starts stays up for the process (a long-lived `interlace
# serve` opens engines for every run; starting Spark takes seconds) and stops at exit, or when
# a connection with other settings needs the JVM while no engine uses it.
_LOCK = threading.Lock()


@dataclass
class _Running:
    session: Any
    key: tuple[tuple[str, str], ...]  # master, catalog and every setting it started with
    users: int = 0


_RUNNING: _Running | None = None
_AT_EXIT = False

DERBY_BUSY = ("XSDB6", "Another instance of Derby", "Failed to start database")


def java_missing() -> bool:
    """Whether no Java runtime is reachable (``JAVA_HOME`` or ``java`` on the PATH)."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return False
    return shutil.which("java") is None


def probe(what: str, url: str, default_port: int, timeout: float) -> None:
    """Fail fast (within ``timeout``) when nothing listens at ``url``'s host and port."""
    parsed = urlparse(url)
    for part in (parsed.netloc or parsed.path).split(","):
        host, _, port = part.rpartition(":") if ":" in part else (part, "", "")
        host = host.split("/")[0] or "localhost"
        number = int(port.split("/")[0]) if port.split("/")[0].isdigit() else default_port
        try:
            with socket.create_connection((host, number), timeout=timeout):
                return
        except OSError as exc:
            last = f"{host}:{number}: {exc.strerror or exc}"
    raise InterlaceConnectionError(
        f"{what}: nothing answers at {url} ({last})",
        hint="check the address and that the Spark master / Connect server is running "
        f"(connect_timeout, {timeout:g}s, bounds the wait)",
    )


def start_session(name: str, config: SparkConnectionConfig, root: Path) -> tuple[Any, bool]:
    r"""The pyspark ``SparkSession`` for a connection, and whether the engine holds it: the
    Spark this process keeps (the engine :func:`release`\ s it). False: a Spark Connect
    session this process keeps for every run (pyspark's Connect client shares one thread pool
    between sessions and shuts it down when any session stops, which can fail the next run's
    session), or a Spark someone else started in this process (an application's own, a
    test's), left alone."""
    what = f"connection '{name}' (type spark)"
    if config.remote is not None:
        return _remote_kept(what, config), False
    try:
        from pyspark.sql import SparkSession
    except ModuleNotFoundError:
        raise InterlaceConnectionError(
            f"{what}: pyspark is not installed",
            hint="pip install 'pyspark>=3.5,<4.1' (and a Java 17 runtime)",
        ) from None
    master = config.effective_master
    if master.startswith("spark://"):
        probe(what, master, 7077, config.connect_timeout)
    global _RUNNING, _AT_EXIT
    wanted = _key(config, root)
    with _LOCK:
        kept = _RUNNING
        if kept is not None and (kept.key == wanted or kept.users):
            _check_same(what, kept.session, config, root)
            kept.users += 1
            return kept.session, True
        if kept is not None:  # started for other settings, and no engine uses it
            _RUNNING = None
            _stop_jvm(kept.session)
        active = SparkSession.getActiveSession()
        if active is None:
            from pyspark import SparkContext

            running = SparkContext._active_spark_context  # started by another thread
            if running is not None:
                active = SparkSession(running)
        if active is not None:
            _check_same(what, active, config, root)
            return active, False
        if java_missing():
            raise InterlaceConnectionError(
                f"{what}: Spark needs Java, and no Java runtime was found "
                "(JAVA_HOME is not set and `java` is not on the PATH)",
                hint="install a Java 17 runtime (e.g. the openjdk-17-jre-headless package) or "
                "set JAVA_HOME",
            )
        builder = SparkSession.builder.master(master).appName(config.app_name)
        for key, value in static_settings(config, root).items():
            builder = builder.config(key, value)
        for key, value in config.settings().items():
            builder = builder.config(key, value)
        if config.catalog == "hive":
            builder = builder.enableHiveSupport()
        try:
            session = builder.getOrCreate()
        except Exception as exc:
            raise start_error(what, master, exc) from None
        session.sparkContext.setLogLevel(config.log_level)
        _RUNNING = _Running(session, wanted, users=1)
        if not _AT_EXIT:
            atexit.register(stop_running)
            _AT_EXIT = True
    return session, True


def _key(config: SparkConnectionConfig, root: Path) -> tuple[tuple[str, str], ...]:
    settings = {"master": config.effective_master, **static_settings(config, root)}
    settings.update(config.settings())
    return tuple(sorted(settings.items()))


def release(session: Any) -> None:
    """An engine is done with the Spark :func:`start_session` gave it; Spark keeps running
    for the next run of this process (:func:`stop_running` stops it)."""
    with _LOCK:
        if _RUNNING is not None and _RUNNING.session is session and _RUNNING.users:
            _RUNNING.users -= 1


def running_session() -> Any:
    """The Spark this process started and keeps (None when none runs)."""
    return _RUNNING.session if _RUNNING is not None else None


def stop_running(*, unused_only: bool = False) -> None:
    """Stop the Spark this process started (at exit; ``unused_only``: only when no engine
    holds it)."""
    global _RUNNING
    with _LOCK:
        if _RUNNING is not None and unused_only and _RUNNING.users:
            return
        running, _RUNNING = _RUNNING, None
    if running is not None:
        _stop_jvm(running.session)


def _stop_jvm(session: Any) -> None:
    try:
        session.stop()
    except Exception:
        pass


def static_settings(config: SparkConnectionConfig, root: Path) -> dict[str, str]:
    """Settings fixed when the JVM starts: the warehouse, the catalog and its metastore."""
    warehouse = (root / config.warehouse).resolve()
    out = {
        "spark.sql.warehouse.dir": str(warehouse),
        "spark.sql.catalogImplementation": config.catalog,
    }
    if config.catalog == "hive" and not config.external_metastore:
        metastore = (root / config.metastore).resolve()
        metastore.parent.mkdir(parents=True, exist_ok=True)
        out["spark.hadoop.javax.jdo.option.ConnectionURL"] = (
            f"jdbc:derby:;databaseName={metastore};create=true"
        )
        # derby.log beside the metastore, not in the working directory
        out["spark.driver.extraJavaOptions"] = f"-Dderby.system.home={metastore.parent}"
    return out


def _check_same(what: str, active: Any, config: SparkConnectionConfig, root: Path) -> None:
    """A Spark already running in this process must use this connection's warehouse."""
    wanted = static_settings(config, root)["spark.sql.warehouse.dir"]
    running = active.conf.get("spark.sql.warehouse.dir", None) or ""
    if running.removeprefix("file:").rstrip("/") != wanted.rstrip("/"):
        raise InterlaceConnectionError(
            f"{what}: Spark already runs in this process with warehouse {running}, not {wanted}",
            hint="one process runs one Spark: give every spark connection of the project "
            "the same `warehouse`, or use `remote:` (Spark Connect) for the others",
        )


def start_error(what: str, master: str, exc: BaseException) -> InterlaceConnectionError:
    text = str(exc)
    if "JAVA_GATEWAY_EXITED" in text or "Java gateway process exited" in text:
        return InterlaceConnectionError(
            f"{what}: the Java process of Spark exited at start ({text.splitlines()[0]})",
            hint="check the Java runtime (Java 17 for Spark 4) and `conf:` settings; Spark's "
            "own messages above say more",
        )
    return InterlaceConnectionError(
        f"{what}: cannot start Spark with master {master}: {text.splitlines()[0] if text else exc}",
        hint="check `master` and `conf:` of this connection",
    )


def metastore_busy(config: SparkConnectionConfig, root: Path, exc: BaseException) -> bool:
    """Whether ``exc`` says another process holds the embedded Derby metastore (Derby's own
    words, or the Hive client failing to start while Derby's lock file is there)."""
    if config.catalog != "hive" or config.external_metastore:
        return False
    text = str(exc)
    if any(marker in text for marker in DERBY_BUSY):
        return True
    locked = ((root / config.metastore).resolve() / "db.lck").exists()
    return locked and "SessionHiveMetaStoreClient" in text


def busy_error(what: str, config: SparkConnectionConfig) -> InterlaceConnectionError:
    return InterlaceConnectionError(
        f"{what}: another process holds the embedded Derby metastore ({config.metastore}); "
        "only one process at a time can open it",
        hint="wait for the other interlace process to finish, or share the catalog between "
        "processes: run a Spark Connect server that owns it (`remote: sc://host:15002`), or "
        "point `conf:` at an external Hive metastore (spark.hadoop.hive.metastore.uris)",
    )


_REMOTES: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}


def _remote_kept(what: str, config: SparkConnectionConfig) -> Any:
    """The process's Spark Connect session for this server and settings (opened on first use;
    never stopped by Interlace: stopping it at exit would wait out the client's retries when
    the server is already gone, and the server ends an idle session itself)."""
    assert config.remote is not None
    key = (config.remote, tuple(sorted(config.settings().items())))
    with _LOCK:
        session = _REMOTES.get(key)
    if session is not None and not getattr(session, "is_stopped", False):
        return session
    session = _remote(what, config)
    with _LOCK:
        _REMOTES[key] = session
    return session


def forget_remote(session: Any) -> None:
    """Drop a kept Spark Connect session that failed (the next run opens a new one)."""
    with _LOCK:
        for key, kept in list(_REMOTES.items()):
            if kept is session:
                del _REMOTES[key]


def _remote(what: str, config: SparkConnectionConfig) -> Any:
    assert config.remote is not None
    try:
        from pyspark.sql.connect.session import SparkSession as ConnectSession
    except ImportError as exc:
        raise InterlaceConnectionError(
            f"{what}: Spark Connect needs pyspark's connect extras (module "
            f"'{getattr(exc, 'name', None) or exc}' is missing)",
            hint="pip install 'pyspark[connect]>=3.5,<4.1' (grpcio, grpcio-status, "
            "googleapis-common-protos, zstandard)",
        ) from None
    probe(what, config.remote, 15002, config.connect_timeout)
    builder = ConnectSession.builder.remote(config.remote)
    try:
        session = builder.create()
        for key, value in config.settings().items():
            if key.startswith("spark.sql."):
                try:
                    session.conf.set(key, value)
                except Exception:
                    pass  # a setting the server does not let a client change
    except Exception as exc:
        raise InterlaceConnectionError(
            f"{what}: cannot open a Spark Connect session at {config.remote}: "
            f"{str(exc).splitlines()[0] if str(exc) else exc}",
            hint="check `remote` and that the Spark Connect server is running",
        ) from None
    return session
