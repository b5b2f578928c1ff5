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
_COMMENT = re.compile(r"^\s*--(.*)$")
_BLOCK_SCALAR = re.compile(r"^[|>][+-]?[1-9]?$")
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

    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        number = index + 1
        index += 1
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
            continued = _continuation(lines, index, line, raw)
            index += len(continued)
            options[key] = _header_value(key, raw, continued, file, number)
            option_lines[key] = number
            continue
        if body_line is None and line.strip() and not line.strip().startswith("--"):
            body_line = number
        body.append(line)
    flush()
    return blocks


def _continuation(lines: list[str], start: int, header: str, raw: str) -> list[str]:
    """The comment lines after a header line that continue its YAML value.

    A value continues when the header line leaves it open: nothing after the colon (a block
    list or mapping follows), a block scalar (``|`` or ``>``), or an unclosed ``[`` / ``{``.
    An empty or block value continues on ``--`` lines indented deeper than the ``@`` (or list
    items ``- ...`` at its depth); an unclosed flow value on ``--`` lines until it closes.
    Another ``-- @key`` line, a line of SQL or a less indented comment ends it.
    """
    flow = _open_brackets(raw) > 0
    if raw and not flow and not _BLOCK_SCALAR.match(raw):
        return []
    depth = header.index("@") - header.index("--") - 2
    taken: list[str] = []
    pending: list[str] = []  # blank comment lines: kept only when the value goes on after them
    opened = _open_brackets(raw)
    for line in lines[start:]:
        comment = _COMMENT.match(line)
        if comment is None or _HEADER.match(line):
            break
        text = comment.group(1)
        if not text.strip():
            pending.append(line)
            continue
        indent = len(text) - len(text.lstrip())
        if not flow and not (
            indent > depth or (not raw and indent == depth and text.lstrip().startswith("- "))
        ):
            break
        taken += [*pending, line]
        pending = []
        if flow:
            opened += _open_brackets(text)
            if opened <= 0:
                break
    return taken


def _open_brackets(text: str) -> int:
    """How many ``[`` / ``{`` the text leaves open (outside quotes)."""
    depth = 0
    quote: str | None = None
    for char in text:
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
    return depth


def _header_value(key: str, raw: str, continued: list[str], file: str, line: int) -> Any:
    """The YAML value of a header (continued on ``continued`` comment lines)."""
    parts = [raw, *(_COMMENT.sub(r"\1", c) for c in continued)]
    text = "\n".join(parts) + "\n" if continued else raw
    try:
        return yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        shown = raw if not continued else text.strip()
        raise ModelDefinitionError(
            f"header '@{key}' has an invalid YAML value {shown!r}: {getattr(exc, 'problem', exc)}",
            file=file,
            line=line + (mark.line if mark is not None and continued else 0),
            hint="values are YAML: quote strings with ':' or '#', lists look like [a, b]; "
            "a value continued on the next `--` lines is indented deeper than its `@`",
        ) from None


def _readable(description: str) -> str:
    """sqlglot's message without Python reprs: `<Token ... text: where, ...>` -> `'where'`."""
    description = re.sub(
        r"<Token token_type: [\w.]+, text: (.*?), line: \d+.*?>", r"'\1'", description
    )
    return re.sub(r"<class '(?:[\w]+\.)*(\w+)'>", r"\1", description)


def parse_query(sql: str, *, file: str, line_offset: int, model: str, dialect: str) -> exp.Expr:
    """Parse one model body; errors point at the file line of the problem."""
    reject_templates(sql, file=file, line_offset=line_offset, model=model)
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


# string literals, quoted identifiers and comments: template markers inside them are data
_NOT_CODE = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.S)
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_REF = re.compile(r"""^\{\{-?\s*ref\(\s*(?:['"][^'"]+['"]\s*,\s*)?['"]([^'"]+)['"]""")
_SOURCE = re.compile(r"""^\{\{-?\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]""")


def reject_templates(sql: str, *, file: str, line_offset: int, model: str) -> None:
    """A Jinja template left in a model (``{{ ref('x') }}``, ``{% for %}``, from dbt) is an
    error that says what to write instead: SQL models are plain SQL."""
    if "{{" not in sql and "{%" not in sql and "{#" not in sql:
        return
    code = _NOT_CODE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), sql)
    found = _TEMPLATE.search(code)
    if found is None:
        return
    text = sql[found.start() : found.end()]
    line = line_offset + sql.count("\n", 0, found.start())
    shown = text if len(text) <= 60 else text[:59] + "…"
    ref, source = _REF.match(text), _SOURCE.match(text)
    if ref is not None:
        instead = f"write the table name instead: `{ref.group(1)}`"
    elif source is not None:
        instead = f"write the table instead: `{source.group(1)}.{source.group(2)}`"
    elif text.startswith("{%"):
        instead = (
            "for a loop or a condition, generate the SQL in a Python model (@model returning "
            "an ibis expression), or put reusable SQL in a macro under functions/"
        )
    else:
        instead = (
            "write the table name for a reference, a `-- @key: value` header line for "
            "config(), and a Python model or a functions/ macro for anything computed"
        )
    raise SQLParseError(
        f"Jinja templates are not supported in SQL models: {shown}",
        file=file,
        line=line,
        model=model,
        hint=f"{instead} (`interlace init --from-dbt` converts a dbt project's templates)",
    )


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
