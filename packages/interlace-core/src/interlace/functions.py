"""The project's ``functions/`` folder (SPEC §7.5): SQL functions every SQL model can call.

- ``functions/*.py``: every public function defined in the file (not imported, not starting
  with ``_``) becomes a DuckDB scalar UDF of the same name. Its parameter and return types come
  from its annotations (``int``, ``float``, ``str``, ``bool``, ``bytes``, ``Decimal``,
  ``datetime.date``/``datetime``/``time``/``timedelta``, ``list[...]``, ``X | None``); a
  parameter annotated ``X | None`` receives NULLs (otherwise NULL in gives NULL out without a
  call).
- ``functions/*.sql``: ``CREATE [OR REPLACE] [TEMP] MACRO|FUNCTION ...;`` statements, created as
  ``CREATE OR REPLACE MACRO`` (stored in the database, so views that call them keep working in
  other tools; ``TEMP`` on a read-only database).

They are checked when the project loads (errors name the file and line) and registered on every
DuckDB connection before models run. Other engines do not receive them.

Example ``functions/text.py``::

    def initials(name: str) -> str:
        return "".join(part[0] for part in name.split())

Example ``functions/money.sql``::

    CREATE MACRO cents_to_dollars(c) AS round(c / 100.0, 2);
"""

from __future__ import annotations

import datetime as dt
import decimal
import importlib.util
import inspect
import re
import sys
import traceback
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace.errors import ProjectError, first_line

if TYPE_CHECKING:
    from collections.abc import Callable

    import duckdb

FUNCTIONS_DIR = "functions"

_SCALARS: dict[Any, str] = {
    int: "BIGINT",
    float: "DOUBLE",
    str: "VARCHAR",
    bool: "BOOLEAN",
    bytes: "BLOB",
    decimal.Decimal: "DECIMAL(38, 10)",
    dt.date: "DATE",
    dt.datetime: "TIMESTAMP",
    dt.time: "TIME",
    dt.timedelta: "INTERVAL",
}

_CREATE = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?P<temp>TEMP(?:ORARY)?\s+)?(?:MACRO|FUNCTION)\s+"
    r"(?P<name>[A-Za-z_][A-Za-z0-9_.]*|\"[^\"]+\")",
    re.IGNORECASE,
)


class FunctionError(ProjectError):
    """A file in ``functions/`` cannot become a SQL function."""


@dataclass(frozen=True)
class PythonFunction:
    """A Python function registered as a DuckDB scalar UDF."""

    name: str
    fn: Callable[..., Any]
    parameters: tuple[str, ...]  # DuckDB type names
    return_type: str
    nullable: bool  # some parameter accepts None: call it on NULLs too
    file: str
    line: int


@dataclass(frozen=True)
class SQLMacro:
    """One ``CREATE MACRO`` statement of a ``.sql`` file (body after ``CREATE ... MACRO``)."""

    name: str
    definition: str  # the text after "CREATE [OR REPLACE] [TEMP] MACRO "
    file: str
    line: int

    def statement(self, *, persistent: bool) -> str:
        kind = "MACRO" if persistent else "TEMP MACRO"
        return f"CREATE OR REPLACE {kind} {self.definition}"


@dataclass(frozen=True)
class ProjectFunctions:
    """Everything ``functions/`` defines; empty when the folder is missing."""

    python: tuple[PythonFunction, ...] = ()
    macros: tuple[SQLMacro, ...] = ()
    names: tuple[str, ...] = field(default=(), repr=False)

    def __bool__(self) -> bool:
        return bool(self.python or self.macros)

    def register(self, connection: duckdb.DuckDBPyConnection, *, persistent: bool) -> None:
        """Create the UDFs, then the macros (which may call them), on ``connection``.

        UDFs belong to the connection and its cursors. Macros are stored in the database when
        ``persistent``; otherwise they are TEMP (then only this connection sees them).
        """
        self.register_udfs(connection)
        self.create_macros(connection, persistent=persistent)

    def register_udfs(self, connection: duckdb.DuckDBPyConnection) -> None:
        """The Python UDFs (a connection's cursors opened later see them)."""
        import duckdb

        for function in self.python:
            try:
                connection.remove_function(function.name)
            except duckdb.Error:
                pass  # not registered yet
            create: Any = connection.create_function  # its stubs type the callable narrowly
            create(
                function.name,
                function.fn,
                [duckdb.sqltype(t) for t in function.parameters],
                duckdb.sqltype(function.return_type),
                null_handling="special" if function.nullable else "default",
                side_effects=False,
            )

    def create_macros(self, connection: duckdb.DuckDBPyConnection, *, persistent: bool) -> None:
        """The SQL macros: stored in the database, or TEMP (this connection or cursor only)."""
        import duckdb

        for macro in self.macros:
            try:
                connection.execute(macro.statement(persistent=persistent))
            except duckdb.Error as exc:
                raise FunctionError(
                    f"macro '{macro.name}' cannot be created: {first_line(exc)}",
                    file=macro.file,
                    line=macro.line,
                    hint="fix the statement; DuckDB's CREATE MACRO syntax applies",
                ) from None


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------- Python UDFs


def duckdb_type(annotation: Any) -> tuple[str, bool] | None:
    """``(DuckDB type, accepts None)`` of an annotation, or None when it has no SQL type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            return None
        inner = duckdb_type(args[0])
        return (inner[0], True) if inner else None
    if origin is list:
        (item,) = typing.get_args(annotation) or (None,)
        inner = duckdb_type(item) if item is not None else None
        return (f"{inner[0]}[]", False) if inner else None
    if annotation in _SCALARS:
        return _SCALARS[annotation], False
    return None


def _udf(fn: Callable[..., Any], rel: str) -> PythonFunction:
    name = fn.__name__
    line = fn.__code__.co_firstlineno
    signature = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:
        raise FunctionError(
            f"function '{name}': its annotations cannot be read: {exc}",
            file=rel,
            line=line,
            hint="annotate with builtin types, e.g. def f(x: int) -> float",
        ) from None
    parameters: list[str] = []
    nullable = False
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.KEYWORD_ONLY):
            raise FunctionError(
                f"function '{name}': parameter '{param.name}' must be positional for SQL",
                file=rel,
                line=line,
                hint="SQL calls functions with positional arguments only; drop *args/**kwargs/*",
            )
        if param.name not in hints:
            raise FunctionError(
                f"function '{name}': parameter '{param.name}' has no type annotation, so its SQL "
                "type is unknown",
                file=rel,
                line=line,
                hint=f"annotate it, e.g. def {name}({param.name}: int, ...) -> str; or rename "
                f"the function _{name} if it is a helper, not a SQL function",
            )
        found = duckdb_type(hints[param.name])
        if found is None:
            raise FunctionError(
                f"function '{name}': parameter '{param.name}' is annotated "
                f"{_spell(hints[param.name])}, which has no SQL type",
                file=rel,
                line=line,
                hint="use int, float, str, bool, bytes, Decimal, date, datetime, time, "
                "timedelta, list[...] or X | None",
            )
        parameters.append(found[0])
        nullable = nullable or found[1]
    if "return" not in hints:
        raise FunctionError(
            f"function '{name}' has no return type annotation, so its SQL type is unknown",
            file=rel,
            line=line,
            hint=f"annotate it, e.g. def {name}(...) -> str; or rename it _{name} if it is a "
            "helper, not a SQL function",
        )
    returned = duckdb_type(hints["return"])
    if returned is None:
        raise FunctionError(
            f"function '{name}' returns {_spell(hints['return'])}, which has no SQL type",
            file=rel,
            line=line,
            hint="return int, float, str, bool, bytes, Decimal, date, datetime, time, "
            "timedelta, list[...] or X | None",
        )
    return PythonFunction(name, fn, tuple(parameters), returned[0], nullable, rel, line)


def _spell(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or repr(annotation)


def _import(path: Path, root: Path) -> types.ModuleType:
    rel = _relative(path, root)
    module_name = f"_interlace_functions.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise FunctionError("cannot import the functions file", file=rel)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_interlace_functions", types.ModuleType("_interlace_functions"))
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise FunctionError(
            f"Python syntax error: {exc.msg}", file=rel, line=exc.lineno, hint="fix the syntax"
        ) from None
    except Exception as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        raise FunctionError(
            f"importing the functions file failed: {type(exc).__name__}: {exc}",
            file=rel,
            line=frames[-1].lineno if frames else None,
            hint="files in functions/ are imported when the project loads",
        ) from None
    return module


def _python_functions(path: Path, root: Path) -> list[PythonFunction]:
    module = _import(path, root)
    rel = _relative(path, root)
    found = []
    for name, value in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(value):
            continue
        if value.__module__ != module.__name__:
            continue  # imported from elsewhere
        found.append(_udf(value, rel))
    return sorted(found, key=lambda f: f.line)


# ---------------------------------------------------------------------------- SQL macros


def _statements(text: str) -> list[tuple[str, int]]:
    """``(statement, first line)`` of each ``;``-separated statement (strings and comments
    respected), without leading comments."""
    from sqlglot import TokenType
    from sqlglot.dialects.duckdb import DuckDB

    tokens = DuckDB().tokenize(text)
    out: list[tuple[str, int]] = []
    start: int | None = None
    line = 1
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if start is not None:
                out.append((text[start : token.start].strip(), line))
            start = None
            continue
        if start is None:
            start, line = token.start, token.line
    if start is not None:
        out.append((text[start:].strip(), line))
    return [(sql, n) for sql, n in out if sql]


def _macros(path: Path, root: Path) -> list[SQLMacro]:
    rel = _relative(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FunctionError(f"cannot read the file: {exc}", file=rel) from None
    try:
        statements = _statements(text)
    except Exception as exc:
        raise FunctionError(f"cannot split the file into statements: {exc}", file=rel) from None
    macros = []
    for sql, line in statements:
        match = _CREATE.match(sql)
        if match is None:
            first = sql.split(None, 3)[:3]
            raise FunctionError(
                f"expected CREATE MACRO ..., found '{' '.join(first)} ...'",
                file=rel,
                line=line,
                hint="a .sql file in functions/ holds CREATE MACRO name(args) AS expression; "
                "statements (one or more, separated by ';')",
            )
        definition = sql[match.start("name") :]
        macros.append(SQLMacro(match.group("name").strip('"'), definition, rel, line))
    return macros


# ---------------------------------------------------------------------------- loading


def load_functions(root: Path) -> ProjectFunctions:
    """Read ``root/functions`` and check every definition on a scratch DuckDB database."""
    folder = root / FUNCTIONS_DIR
    if not folder.is_dir():
        return ProjectFunctions()
    python: list[PythonFunction] = []
    macros: list[SQLMacro] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "_")) or not path.is_file():
            continue
        if path.suffix == ".py":
            python += _python_functions(path, root)
        elif path.suffix == ".sql":
            macros += _macros(path, root)
    seen: dict[str, str] = {}
    defined: list[PythonFunction | SQLMacro] = [*python, *macros]
    for item in defined:
        key = item.name.lower()
        if key in seen:
            raise FunctionError(
                f"function '{item.name}' is also defined in {seen[key]}",
                file=item.file,
                line=item.line,
                hint="give each function its own name",
            )
        seen[key] = f"{item.file}:{item.line}"
    functions = ProjectFunctions(tuple(python), tuple(macros), tuple(seen))
    if functions:
        _check(functions)
    return functions


def _check(functions: ProjectFunctions) -> None:
    """Register everything on an in-memory database: DuckDB's errors surface at load time."""
    import duckdb

    scratch = duckdb.connect(":memory:")
    try:
        for function in functions.python:
            try:
                ProjectFunctions(python=(function,)).register(scratch, persistent=True)
            except duckdb.Error as exc:
                raise FunctionError(
                    f"function '{function.name}' cannot be registered: {first_line(exc)}",
                    file=function.file,
                    line=function.line,
                ) from None
        for macro in functions.macros:
            try:
                scratch.execute(macro.statement(persistent=True))
            except duckdb.CatalogException:
                pass  # a table macro reads tables this empty database lacks: checked on open
            except duckdb.Error as exc:
                raise FunctionError(
                    f"macro '{macro.name}' cannot be created: {first_line(exc)}",
                    file=macro.file,
                    line=macro.line,
                    hint="fix the statement; DuckDB's CREATE MACRO syntax applies",
                ) from None
    finally:
        scratch.close()


__all__ = [
    "FunctionError",
    "ProjectFunctions",
    "PythonFunction",
    "SQLMacro",
    "load_functions",
]
