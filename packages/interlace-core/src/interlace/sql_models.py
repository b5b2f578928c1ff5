"""SQL model files: `-- @key: value` headers, several models per file, dependency discovery.

A file holds one or more models. Each starts with header lines (`-- @key: value`, values are
YAML) followed by one query. A new `-- @name:` line after a query starts the next model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlglot
import yaml
from sqlglot import exp
from sqlglot.errors import ParseError

from interlace.errors import ModelDefinitionError, SQLParseError

if TYPE_CHECKING:
    from pathlib import Path

_HEADER = re.compile(r"^\s*--\s*@([A-Za-z_][A-Za-z0-9_]*)\s*:?\s*(.*?)\s*$")
QUERY_TYPES = (exp.Select, exp.SetOperation, exp.Subquery, exp.Values)


@dataclass
class SqlBlock:
    """One model as written in a SQL file, before validation of its options."""

    options: dict[str, Any]
    header_line: int
    sql: str
    sql_line: int  # 1-based line where the SQL body starts
    option_lines: dict[str, int]


def split_sql_file(text: str, file: str) -> list[SqlBlock]:
    """Split a file into model blocks by their `-- @name:` / header lines."""
    blocks: list[SqlBlock] = []
    options: dict[str, Any] = {}
    option_lines: dict[str, int] = {}
    header_line = 1
    body: list[str] = []
    body_line: int | None = None

    def flush() -> None:
        nonlocal options, option_lines, body, body_line
        sql = "\n".join(body).strip()
        if options or sql:
            blocks.append(
                SqlBlock(options, header_line, sql, body_line or header_line, option_lines)
            )
        options, option_lines, body, body_line = {}, {}, [], None

    for number, line in enumerate(text.splitlines(), start=1):
        match = _HEADER.match(line)
        if match:
            key, raw = match.group(1), match.group(2)
            body_started = any(b.strip() and not b.strip().startswith("--") for b in body)
            if body_started and key == "name":
                flush()
            if body_started and key != "name":
                raise ModelDefinitionError(
                    f"header line '@{key}' appears after the SQL of the model",
                    file=file,
                    line=number,
                    hint="put all `-- @key: value` lines above the query, or start a new model "
                    "with `-- @name: ...`",
                )
            if not options and not body:
                header_line = number
            if key in options:
                raise ModelDefinitionError(
                    f"header '@{key}' is given twice",
                    file=file,
                    line=number,
                    hint="keep one of the lines",
                )
            try:
                value = yaml.safe_load(raw) if raw else None
            except yaml.YAMLError as exc:
                raise ModelDefinitionError(
                    f"header '@{key}' has an invalid YAML value {raw!r}: "
                    f"{getattr(exc, 'problem', exc)}",
                    file=file,
                    line=number,
                    hint="values are YAML: quote strings with ':' or '#', lists look like [a, b]",
                ) from None
            options[key] = value
            option_lines[key] = number
            continue
        if body_line is None and line.strip() and not line.strip().startswith("--"):
            body_line = number
        body.append(line)
    flush()
    return blocks


def _readable(description: str) -> str:
    """sqlglot's message without Python reprs: `<Token ... text: where, ...>` -> `'where'`."""
    description = re.sub(
        r"<Token token_type: [\w.]+, text: (.*?), line: \d+.*?>", r"'\1'", description
    )
    return re.sub(r"<class '(?:[\w]+\.)*(\w+)'>", r"\1", description)


def parse_query(sql: str, *, file: str, line_offset: int, model: str, dialect: str) -> exp.Expr:
    """Parse one model body; errors point at the file line of the problem."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as exc:
        detail = exc.errors[0] if exc.errors else {}
        line = detail.get("line")
        description = detail.get("description") or str(exc)
        near = detail.get("highlight")
        raise SQLParseError(
            f"SQL syntax error: {_readable(description.split('. Line')[0])}"
            + (f" near '{near}'" if near else ""),
            file=file,
            line=(line_offset + line - 1) if line else line_offset,
            model=model,
            hint=f"fix the SQL; it is parsed with the connection's dialect ({dialect})",
        ) from None
    if not statements:
        raise SQLParseError(
            "the model has no SQL",
            file=file,
            line=line_offset,
            model=model,
            hint="write a SELECT query below the header",
        )
    if len(statements) > 1:
        raise SQLParseError(
            f"the model has {len(statements)} statements; a SQL model is one query",
            file=file,
            line=line_offset,
            model=model,
            hint="split it into several models with `-- @name:` lines, or use a migration",
        )
    return statements[0]


def table_references(query: exp.Expr) -> list[exp.Table]:
    """Tables a query reads, without its own CTE names and without table functions."""
    cte_names = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    refs = []
    for table in query.find_all(exp.Table):
        if not table.name or isinstance(table.this, exp.Func):
            continue
        if not table.db and table.name.lower() in cte_names:
            continue
        refs.append(table)
    return refs


def read_sql_file(path: Path, rel: str) -> list[SqlBlock]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelDefinitionError(f"cannot read SQL file: {exc}", file=rel) from None
    return split_sql_file(text, rel)
