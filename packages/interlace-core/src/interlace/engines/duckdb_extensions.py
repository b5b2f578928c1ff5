"""Loading DuckDB extensions offline, from the ``duckdb-extension-<name>`` wheels on PyPI.

DuckDB would download an extension on ``INSTALL name``; Interlace never lets it (servers and CI
have no route to DuckDB's extension site, and a run must not depend on one). Instead each
extension comes from a Python distribution, ``duckdb-extension-<name>==<duckdb version>``, that
ships the signed extension file. :func:`load_extension` finds that file through importlib,
``INSTALL``s it from the path into a private extension directory (once per machine and version)
and ``LOAD``s it. A missing distribution is an error that names the one to install.

Example::

    con = duckdb.connect(config={"extension_directory": str(extension_directory())})
    load_extension(con, "sqlite")          # needs duckdb-extension-sqlite installed
    con.execute("ATTACH 'shop.sqlite' AS shop (TYPE sqlite)")
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from interlace.errors import InterlaceConnectionError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import duckdb

# Built into the duckdb wheel: nothing to install or load.
BUILT_IN = frozenset({"json", "parquet", "icu", "core_functions"})

# The name DuckDB reports in duckdb_extensions() when it differs from the wheel's.
_LOADED_AS = {"sqlite": "sqlite_scanner", "postgres": "postgres_scanner", "mysql": "mysql_scanner"}


def distribution(name: str) -> str:
    """The PyPI distribution that ships extension ``name`` for the installed DuckDB."""
    import duckdb

    return f"duckdb-extension-{name.replace('_', '-')}=={duckdb.__version__}"


def extension_file(name: str) -> Path:
    """The extension file inside its wheel; an error naming the distribution when missing."""
    import importlib.resources

    import duckdb

    module = f"duckdb_extension_{name.replace('-', '_')}"
    try:
        folder = importlib.resources.files(module)
    except ModuleNotFoundError:
        raise InterlaceConnectionError(
            f"the DuckDB extension '{name}' is not installed",
            hint=f"pip install {distribution(name)} (Interlace never downloads extensions)",
        ) from None
    path = Path(str(folder)) / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        raise InterlaceConnectionError(
            f"the DuckDB extension '{name}' installed does not fit DuckDB {duckdb.__version__} "
            f"(no {path.name} for that version in {folder})",
            hint=f"pip install {distribution(name)}",
        )
    return path


def extension_directory() -> Path:
    """Where extensions are installed: ``$INTERLACE_DUCKDB_EXTENSIONS``, else a folder in the
    user's cache (never DuckDB's shared ``~/.duckdb``, never the project)."""
    configured = os.environ.get("INTERLACE_DUCKDB_EXTENSIONS")
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(cache) / "interlace" / "duckdb-extensions"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    except OSError:  # a read-only home: a folder per user in the temp dir
        return Path(tempfile.gettempdir()) / f"interlace-duckdb-extensions-{os.getuid()}"


@contextmanager
def _install_lock(directory: Path) -> Iterator[None]:
    """One process installs at a time (parallel test workers or service workers)."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: INSTALL is idempotent enough
        yield
        return
    with open(directory / ".install.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_extension(connection: duckdb.DuckDBPyConnection, name: str) -> None:
    """Make extension ``name`` usable on ``connection`` (and its cursors) without a download.

    The connection must have been opened with ``autoinstall_known_extensions = false``; its
    ``extension_directory`` setting says where the file is installed.
    """
    if name in BUILT_IN:
        return
    if not name.replace("_", "").isalnum():
        raise InterlaceConnectionError(
            f"'{name}' is not a DuckDB extension name", hint="use a name like httpfs or spatial"
        )
    loaded_as = _LOADED_AS.get(name, name)
    # inlined, not a bound parameter: binding one makes DuckDB import pandas (~1 s)
    row = connection.execute(
        f"SELECT loaded, installed FROM duckdb_extensions() WHERE extension_name = '{loaded_as}'"
    ).fetchone()
    if row is not None and row[0]:
        return
    if row is None or not row[1]:
        file = extension_file(name)
        directory = connection.execute("SELECT current_setting('extension_directory')").fetchone()
        with _install_lock(Path(str(directory[0])) if directory and directory[0] else Path.home()):
            connection.execute("INSTALL '" + str(file).replace("'", "''") + "'")
    try:
        connection.execute(f"LOAD {loaded_as}")
    except Exception as exc:
        message = str(exc).splitlines()[0]
        raise InterlaceConnectionError(
            f"cannot load the DuckDB extension '{name}': {message}",
            hint=f"reinstall it: pip install --force-reinstall {distribution(name)}",
        ) from None
