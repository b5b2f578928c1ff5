"""DuckDB's tpch extension, installed offline from the ``duckdb-extension-tpch`` wheel.

``INSTALL 'tpch'`` would download it; instead ``INSTALL '<file shipped in the wheel>'`` copies the
signed extension into a private ``extension_directory``, after which a plain ``LOAD tpch`` works
(see shared/TOOLCHAIN.md §2). Only the benchmarks need it, so it lives here and not in the core.
"""

from __future__ import annotations

import importlib.resources
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


def extension_file(name: str = "tpch") -> str:
    """Path of the extension file inside the ``duckdb-extension-<name>`` wheel."""
    import duckdb

    try:
        package = importlib.resources.files(f"duckdb_extension_{name}")
    except ModuleNotFoundError:
        raise RuntimeError(
            f"duckdb-extension-{name} is not installed; it is in the workspace dev group "
            "(`uv sync --all-packages`)"
        ) from None
    path = package / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        raise RuntimeError(
            f"{path} does not exist: duckdb-extension-{name} must match duckdb {duckdb.__version__}"
        )
    return str(path)


def default_extension_directory() -> Path:
    return Path(tempfile.gettempdir()) / "interlace-bench" / "duckdb_extensions"


def connect(
    database: str | Path = ":memory:", extension_directory: str | Path | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with tpch loaded (``dbgen``, ``tpch_queries``, ``tpch_answers``)."""
    import duckdb

    ext_dir = Path(extension_directory or default_extension_directory())
    ext_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        str(database),
        config={"extension_directory": str(ext_dir), "autoinstall_known_extensions": False},
    )
    try:
        con.execute(f"INSTALL '{extension_file('tpch')}'")
        con.execute("LOAD tpch")
    except Exception:
        con.close()
        raise
    return con


def queries(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    """The 22 TPC-H queries as DuckDB ships them: ``(number, sql)``."""
    rows = con.execute("SELECT query_nr, query FROM tpch_queries() ORDER BY query_nr").fetchall()
    return [(int(n), str(q)) for n, q in rows]


def generate(path: str | Path, sf: float) -> list[tuple[int, str]]:
    """Write TPC-H data at scale factor ``sf`` into the database file ``path``; the queries."""
    con = connect(path)
    try:
        con.execute(f"CALL dbgen(sf={sf})")
        return queries(con)
    finally:
        con.close()
