"""Incremental (``cursor=``) models: which rows a run reads, and the watermark it keeps.

A model with a cursor reads, from each table it reads that has the cursor column (upstream
models and tables loaded outside Interlace alike), only the rows after its stored watermark,
minus the cursor's ``lookback`` (rows that arrive late), or the rows inside a backfill window.
After a successful publish the newest cursor value becomes the watermark, stored as text that
``CAST(text AS <column type>)`` turns back into the same value.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from interlace import statements as st
from interlace.durations import parse_duration
from interlace.errors import ModelExecutionError

if TYPE_CHECKING:
    from interlace.engines.base import Column, Session
    from interlace.materialize.catalog import RunCatalog
    from interlace.spec import CursorOptions, ModelSpec

# cursor types a duration lookback applies to (TIME wraps around midnight, so it does not)
_DATE_TIME_TYPES = exp.DataType.TEMPORAL_TYPES - {exp.DataType.Type.TIME, exp.DataType.Type.TIMETZ}


def cursor_text(value: Any) -> str:
    """The stored text of a cursor value: ``CAST(text AS <its type>)`` gives the value back.

    Timestamps with a time zone are stored in UTC, with the offset.

    >>> cursor_text(dt.date(2024, 1, 5))
    '2024-01-05'
    >>> cursor_text(dt.datetime(2024, 1, 5, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    '2024-01-05 08:30:00+00:00'
    """
    if isinstance(value, dt.datetime):
        stamp: dt.datetime = value
        if stamp.utcoffset() is not None:
            stamp = stamp.astimezone(dt.UTC)
        return stamp.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def first_row(session: Session, query: exp.Expr) -> tuple[Any, ...] | None:
    """The first row of ``query`` as Python values, read as Arrow: DuckDB's row fetch needs
    pytz for TIMESTAMPTZ values, its Arrow conversion does not."""
    table = session.fetch_arrow(query)
    if table.num_rows == 0:
        return None
    return tuple(column[0].as_py() for column in table.columns)


def lower_bound(value: str, column_type: exp.DataType, lookback: int | str | None) -> exp.Expr:
    """``CAST(value AS type)``, minus ``lookback`` (a count for numeric cursors, a duration for
    date and timestamp cursors); ValueError when the lookback does not fit the type."""
    typed = _typed(value, column_type)
    if lookback is None:
        return typed
    if isinstance(lookback, int):
        if not column_type.is_type(*exp.DataType.NUMERIC_TYPES):
            raise ValueError(
                f"lookback {lookback} is a count, which fits a numeric cursor, not a "
                f"{column_type.sql()} one"
            )
        return exp.Sub(this=typed, expression=exp.Literal.number(lookback))
    if not column_type.is_type(*_DATE_TIME_TYPES):
        raise ValueError(
            f"lookback {lookback!r} is a duration, which fits a date or timestamp cursor, "
            f"not a {column_type.sql()} one"
        )
    seconds = parse_duration(lookback).total_seconds()
    amount = str(int(seconds)) if seconds.is_integer() else repr(seconds)
    return exp.Sub(
        this=typed,
        expression=exp.Interval(this=exp.Literal.string(amount), unit=exp.var("SECOND")),
    )


def lookback_error(spec: ModelSpec, problem: ValueError) -> ModelExecutionError:
    cursor = spec.options.cursor
    assert cursor is not None
    return ModelExecutionError(
        f"cursor '{cursor.column}': {problem}",
        model=spec.name,
        file=spec.file,
        line=spec.line,
        hint="write a duration ('30m', '2h', '1d') for a date or timestamp cursor, a whole "
        "number (100) for a numeric one, or remove lookback",
    )


class CursorFilters:
    """Filters the tables an incremental model reads to the rows after its watermark (minus
    the lookback), or to the backfill window. Only tables that have the cursor column are
    filtered; the others (dimensions) are read whole."""

    def __init__(self, spec: ModelSpec, catalog: RunCatalog, session: Session) -> None:
        assert spec.options.cursor is not None
        self.spec = spec
        self.catalog = catalog
        self.session = session
        self.cursor: CursorOptions = spec.options.cursor
        self.column = self.cursor.column
        self.considered = 0
        self.applied = 0

    def predicate(self, upstream: ModelSpec) -> exp.Expr | None:
        """The filter of upstream model ``upstream``'s relation, or None when it has no cursor
        column."""
        table = self.catalog.read_relation(upstream, self.spec)
        return self._filter(self.session.describe_relation(table))

    def source_predicate(self, table: exp.Table) -> exp.Expr | None:
        """The filter of ``table``, which is no model (data loaded outside Interlace). None when
        it has no cursor column, or when the session cannot describe it (a file, a function):
        then it is read whole."""
        try:
            columns = self.session.describe_relation(table)
        except Exception:
            return None
        return self._filter(columns) if columns else None

    def _filter(self, columns: list[Column]) -> exp.Expr | None:
        self.considered += 1
        types = {c.name: c.type for c in columns}
        if self.column not in types:
            return None
        self.applied += 1
        return self.condition(types[self.column])

    def condition(self, column_type: str, dialect: str = "duckdb") -> exp.Expr | None:
        """``cursor > watermark - lookback`` (or ``>= since``), and ``< until``."""
        as_type = exp.DataType.build(column_type, dialect=dialect)
        window = self.catalog.window
        watermark = self.catalog.watermarks.get(self.spec.name)
        terms: list[exp.Expr] = []
        if window.since is not None:
            terms.append(
                exp.GTE(this=st.column(self.column), expression=_typed(window.since, as_type))
            )
        elif watermark is not None:
            try:
                bound = lower_bound(watermark.value, as_type, self.cursor.lookback)
            except ValueError as exc:
                raise lookback_error(self.spec, exc) from None
            terms.append(exp.GT(this=st.column(self.column), expression=bound))
        if window.until is not None:
            terms.append(
                exp.LT(this=st.column(self.column), expression=_typed(window.until, as_type))
            )
        return exp.and_(*terms) if terms else None

    def check(self) -> None:
        if self.considered and not self.applied:
            raise ModelExecutionError(
                f"cursor column '{self.column}' is in none of the upstream tables",
                model=self.spec.name,
                file=self.spec.file,
                line=self.spec.line,
                hint="name a column the upstream rows carry (e.g. updated_at), or remove cursor=",
            )


def _typed(value: str, as_type: exp.DataType) -> exp.Expr:
    return exp.cast(exp.Literal.string(value), as_type.copy())
