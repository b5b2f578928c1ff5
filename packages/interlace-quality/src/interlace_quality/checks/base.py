"""What every check type shares: the common keys, the context a check compiles against, and the
plans a check compiles to.

A check never reads the relation into Python. It compiles to a :data:`Plan` of sqlglot ASTs
that the runner executes in the model's engine:

- :class:`RowsPlan`: a query of the rows that violate the check (counted, and sampled, in SQL);
- :class:`ValuePlan`: one aggregate row the check judges (``row_count``, ``freshness``);
- :class:`Verdict`: decided already (a Python ``expression`` returned a bool or a count).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, get_args

import sqlglot
from interlace.status import Severity
from pydantic import BaseModel, ConfigDict, field_validator
from sqlglot import exp
from sqlglot.errors import ParseError

if TYPE_CHECKING:
    import pyarrow as pa
    from interlace.engines.base import Session
    from interlace.quality import Resolver
    from interlace.spec import ModelSpec

SAMPLE_SIZE = 5
CHECKED = "checked"  # alias of the relation under test in the SQL a check compiles to
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
COMMON_KEYS = ("name", "severity", "where")


class CheckSetupError(Exception):
    """The check cannot run as declared on this relation (a missing column, a bad reference).

    The runner reports it as a check with status ``error``, which blocks publication when the
    check's severity is ``error``.
    """


def parse_condition(sql: str, dialect: str | None = None) -> exp.Expr:
    """Parse a SQL boolean expression; raise ValueError saying what is wrong with it."""
    try:
        parsed = sqlglot.parse_one(sql, dialect=dialect)
    except ParseError as exc:
        detail = exc.errors[0]["description"] if exc.errors else str(exc)
        raise ValueError(f"the SQL {sql!r} does not parse: {detail}") from None
    if not isinstance(parsed, exp.Condition):
        kind = parsed.key.upper()
        raise ValueError(f"the SQL {sql!r} is a {kind}, not a boolean expression")
    return parsed


class BaseCheck(BaseModel):
    """Common keys of every check: ``name`` (default: derived from the check), ``severity``
    (``error``, the default, blocks publication; ``warn`` only reports) and ``where`` (a SQL
    filter: only matching rows are checked)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    check_type: ClassVar[str] = ""
    # the parameter a shorthand value fills, e.g. {"not_null": "id"} -> columns=["id"]
    primary: ClassVar[str | None] = None

    name: str | None = None
    severity: Severity = "error"
    where: str | None = None

    @field_validator("severity", mode="before")  # before the Literal's own, terser message
    @classmethod
    def _severity(cls, value: Any) -> Any:
        if value not in SEVERITIES:
            raise ValueError(f"severity must be 'error' or 'warn', not {value!r}")
        return value

    @field_validator("where")
    @classmethod
    def _where(cls, value: str | None) -> str | None:
        if value is not None:
            parse_condition(value)
        return value

    @classmethod
    def parameters(cls) -> list[str]:
        """The keys this check type accepts besides the common ones."""
        return [k for k in cls.model_fields if k not in COMMON_KEYS]

    @property
    def label(self) -> str:
        """The name results are reported under: ``name``, else derived from the check."""
        if self.name:
            return self.name
        where = f" where {' '.join(self.where.split())}" if self.where else ""
        return self.default_name() + where

    @abstractmethod
    def default_name(self) -> str:
        """The result name when the declaration gives none, e.g. ``not_null(id)``."""

    def needs(self) -> tuple[str, ...]:
        """Columns of the checked relation the check reads (checked before any query runs)."""
        return ()

    @abstractmethod
    def plan(self, ctx: CheckContext) -> Plan:
        """The queries that evaluate this check against ``ctx.relation``."""


@dataclass
class RowsPlan:
    """The rows violating the check. The runner counts them and fetches a few, both in SQL."""

    failing: exp.Select
    message: Callable[[int], str]  # what ``n`` failing rows mean, for people
    count: exp.Select | None = None  # default: COUNT(*) over ``failing``
    sample: exp.Select | None = None  # default: ``failing`` itself


@dataclass
class Verdict:
    """A decided result: ``message`` says why the check failed (None: it passed)."""

    failing_rows: int
    message: str | None
    sql: str | None = None

    @classmethod
    def of(cls, message: str | None, failing_rows: int = 0) -> Verdict:
        return cls(failing_rows if message is not None else 0, message)


@dataclass
class ValuePlan:
    """One aggregate row, judged in Python (it is one row: the data stays in the engine)."""

    query: exp.Select
    judge: Callable[[tuple[Any, ...]], Verdict]


Plan = RowsPlan | ValuePlan | Verdict


def aliased(relation: exp.Expr, alias: str) -> exp.Expr:
    """``relation`` usable in FROM under ``alias`` (a table, a subquery or a bare query)."""
    node = relation.copy()
    table_alias = exp.TableAlias(this=exp.to_identifier(alias))
    if isinstance(node, exp.Table | exp.Subquery):
        node.set("alias", table_alias)
        return node
    return exp.Subquery(this=node, alias=table_alias)


def columns_of(session: Session, relation: exp.Expr) -> pa.Schema:
    """The columns of a relation, read from the engine without reading rows."""
    query = exp.select("*").from_(aliased(relation, "__il_columns")).limit(0)
    return session.fetch_arrow(query).schema


@dataclass
class CheckContext:
    """The relation one check runs against, on one engine session."""

    session: Session
    model: ModelSpec
    relation: exp.Expr  # as core hands it over: a staged or published table, or a view's query
    schema: pa.Schema
    check: BaseCheck
    resolve: Resolver | None = None

    @property
    def dialect(self) -> str:
        return self.session.dialect

    def parse(self, sql: str) -> exp.Expr:
        """A SQL boolean expression in the engine's dialect."""
        try:
            return parse_condition(sql, self.dialect)
        except ValueError as exc:
            raise CheckSetupError(str(exc)) from None

    def column_name(self, name: str, schema: pa.Schema | None = None, what: str = "") -> str:
        """The relation's spelling of column ``name`` (exact, else case-insensitive)."""
        names: list[str] = list((schema or self.schema).names)
        if name in names:
            return name
        folded = [n for n in names if n.lower() == name.lower()]
        if len(folded) == 1:
            return folded[0]
        where = what or f"model '{self.model.name}'"
        raise CheckSetupError(
            f"column '{name}' is not in {where}; its columns are: {', '.join(names) or '(none)'}"
        )

    def column(self, name: str, table: str = CHECKED) -> exp.Column:
        return exp.column(
            exp.to_identifier(self.column_name(name), quoted=True), table=exp.to_identifier(table)
        )

    def column_type(self, name: str) -> pa.DataType:
        return self.schema.field(self.column_name(name)).type

    def source(self) -> exp.Expr:
        """The relation under test as ``checked``, filtered by the check's ``where``."""
        if self.check.where is None:
            return aliased(self.relation, CHECKED)
        inner = exp.select("*").from_(aliased(self.relation, "__il_unfiltered"))
        return aliased(inner.where(self.parse(self.check.where)), CHECKED)

    def failing_rows(self, condition: exp.Expr) -> exp.Select:
        """``SELECT checked.* FROM <source> WHERE <condition>``."""
        star = exp.Column(this=exp.Star(), table=exp.to_identifier(CHECKED))
        return exp.select(star).from_(self.source()).where(condition)

    def ibis_table(self) -> Any:
        """The (filtered) relation as a lazy ibis table on this session."""
        backend = self.session.ibis()
        query = exp.select("*").from_(self.source())
        return backend.sql(query.sql(dialect=self.dialect), dialect=self.dialect)


def engine_message(exc: BaseException) -> str:
    """An engine error in one readable line (no SQL echo, no caret lines)."""
    if isinstance(exc, CheckSetupError):
        return str(exc)
    text = str(exc).split("\n\nLINE ")[0].strip()
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def preview(values: tuple[Any, ...] | list[Any], limit: int = 5) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:limit])
    return f"[{shown}{', …' if len(values) > limit else ''}]"
