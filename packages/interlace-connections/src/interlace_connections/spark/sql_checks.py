"""DuckDB SQL whose meaning changes on the way to Spark.

SQL models on a ``spark`` connection are written in DuckDB's dialect (``dialect: duckdb``, the
default) and sqlglot turns them into Spark SQL. Most constructs keep their meaning; these do
not, silently (measured with sqlglot 30 and Spark 4.0), so a model using them fails with what
to write instead:

- ``list(x ORDER BY y)`` / ``array_agg(x ORDER BY y)``: Spark's ``collect_list`` has no order,
  the ORDER BY is dropped;
- ``date_diff('day', a, b)`` over timestamps: DuckDB counts day boundaries crossed, Spark whole
  24-hour days;
- ``DATE + INTERVAL``: DuckDB returns a TIMESTAMP, Spark a DATE;
- ``len(list)``: becomes ``LENGTH``, which Spark refuses for arrays;
- ``CAST(x AS INTEGER)`` of a column or a fraction: DuckDB rounds, Spark truncates.
"""

from __future__ import annotations

from dataclasses import dataclass

from interlace.errors import ModelExecutionError
from sqlglot import exp


@dataclass(frozen=True)
class Finding:
    """One construct that would change meaning, and what to write instead."""

    construct: str
    problem: str
    instead: str


_ARRAYS = (exp.Array, exp.ArrayAgg, exp.Split, exp.ArraySort, exp.ArrayConcat, exp.ArrayFilter)
_INTEGERS = {
    exp.DataType.Type.TINYINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
}
# operands whose integer cast may round: a column (its type is not known here), a division,
# an average, a fractional literal
_MAY_ROUND = (exp.Column, exp.Div, exp.Avg, exp.Mul, exp.Sub, exp.Add)
_TIMESTAMP_TYPES = {
    exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.TIMESTAMPTZ,
    exp.DataType.Type.TIMESTAMPNTZ,
    exp.DataType.Type.DATETIME,
}


def _is_date(node: exp.Expr) -> bool:
    return isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DATE


def _is_timestamp(node: exp.Expr) -> bool:
    if isinstance(node, (exp.CurrentTimestamp, exp.TimeStrToTime)):
        return True
    return isinstance(node, exp.Cast) and node.to.this in _TIMESTAMP_TYPES


def _shown(node: exp.Expr) -> str:
    text = node.sql(dialect="duckdb")
    return text if len(text) <= 80 else text[:77] + "..."


def findings(query: exp.Expr) -> list[Finding]:
    """The constructs of ``query`` (parsed as DuckDB SQL) whose meaning Spark changes."""
    out: list[Finding] = []
    for node in query.walk():
        if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
            out.append(
                Finding(
                    _shown(node),
                    "Spark's collect_list keeps no order: the ORDER BY would be dropped",
                    "aggregate without ORDER BY and sort the list by its values "
                    "(list_sort(list(x))), or build the ordered list in a Python model",
                )
            )
        elif isinstance(node, exp.DateDiff):
            unit = str(node.args.get("unit") or "day").strip("'\"").lower()
            if unit in ("day", "days", "d") and not (
                _is_date(node.this) and _is_date(node.expression)
            ):
                out.append(
                    Finding(
                        _shown(node),
                        "DuckDB counts the day boundaries crossed, Spark whole 24-hour days",
                        "cast both arguments to DATE: date_diff('day', CAST(a AS DATE), "
                        "CAST(b AS DATE))",
                    )
                )
        elif isinstance(node, (exp.Add, exp.Sub)):
            sides = (node.this, node.expression)
            interval = next((s for s in sides if isinstance(s, exp.Interval)), None)
            other = next((s for s in sides if s is not interval), None)
            if interval is not None and other is not None and not _is_timestamp(other):
                out.append(
                    Finding(
                        _shown(node),
                        "adding an INTERVAL to a DATE gives a TIMESTAMP in DuckDB and a DATE "
                        "in Spark (and the type of the column is not known here)",
                        "say the type: CAST(x AS TIMESTAMP) + INTERVAL ... for a timestamp, "
                        "or CAST(x + INTERVAL ... AS DATE) for a date",
                    )
                )
        elif (
            isinstance(node, exp.Cast)
            and node.to.this in _INTEGERS
            and (
                isinstance(node.this, _MAY_ROUND)
                or (isinstance(node.this, exp.Literal) and "." in node.this.name)
            )
        ):
            out.append(
                Finding(
                    _shown(node),
                    "casting a fraction to an integer rounds in DuckDB and truncates in Spark",
                    "say which: CAST(round(x) AS INTEGER) or CAST(trunc(x) AS INTEGER)",
                )
            )
        elif isinstance(node, exp.Length) and isinstance(node.this, _ARRAYS):
            out.append(
                Finding(
                    _shown(node),
                    "len() of a list becomes LENGTH, which Spark refuses for arrays",
                    "write array_length(x) (Spark's size)",
                )
            )
    return out


class ChangedMeaningError(ModelExecutionError):
    """A model's DuckDB SQL uses a construct whose meaning Spark changes."""


def check(query: exp.Expr, connection: str) -> None:
    """Raise :class:`ChangedMeaningError` naming the first construct of ``query`` that
    Spark would run with another meaning (the runner adds the model's name and file)."""
    found = findings(query)
    if not found:
        return
    first = found[0]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    raise ChangedMeaningError(
        f"`{first.construct}` would mean something else on Spark (connection "
        f"'{connection}'): {first.problem}{more}",
        hint=f"{first.instead}; or write the model in Spark SQL (`dialect: spark` on the "
        "connection)",
    )


def adapted(query: exp.Expr) -> exp.Expr:
    """``query`` with the DuckDB constructs sqlglot translates into SQL Spark cannot run (or
    runs with another meaning) replaced by Spark's own: ``FROM generate_series(a, b) AS t(n)``
    (and ``range``) becomes ``FROM explode(sequence(a, b)) AS t(n)`` (sqlglot writes an alias
    Spark cannot resolve), and a ``TIMESTAMP`` (DuckDB's has no time zone, as in the statements
    Interlace builds) becomes ``TIMESTAMP_NTZ`` (Spark's ``TIMESTAMP`` is an instant)."""
    series = [
        t
        for t in query.find_all(exp.Table)
        if isinstance(t.this, exp.GenerateSeries) and t.args.get("alias") is not None
    ]
    naive = [d for d in query.find_all(exp.DataType) if d.this == exp.DType.TIMESTAMP]
    if not series and not naive:
        return query
    query = query.copy()
    for kind in query.find_all(exp.DataType):
        if kind.this == exp.DType.TIMESTAMP:  # DuckDB's TIMESTAMP has no time zone
            kind.set("this", exp.DType.TIMESTAMPNTZ)
    for table in query.find_all(exp.Table):
        call = table.this
        if not isinstance(call, exp.GenerateSeries) or table.args.get("alias") is None:
            continue
        step = call.args.get("step")
        end = call.args["end"].copy()
        if call.args.get("is_end_exclusive"):  # range(a, b): b itself is not in it
            down = step is not None and step.sql().lstrip("(").startswith("-")
            end = (exp.Add if down else exp.Sub)(
                this=exp.paren(end), expression=exp.Literal.number(1)
            )
        arguments = [call.args["start"].copy(), end]
        if step is not None:
            arguments.append(step.copy())
        table.set(
            "this",
            exp.Anonymous(
                this="explode", expressions=[exp.Anonymous(this="sequence", expressions=arguments)]
            ),
        )
    return query
