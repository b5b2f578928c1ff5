"""Publishing by version (``Capabilities.publish == "versioned_view"``), for engines that can
swap nothing atomically but a view (plain Spark tables: no transactions, no rename onto an
existing table, a failed overwrite leaves a table empty).

Each write goes to a new table ``<model>__v<version>``, never reused (the version is the time of
the write, to the microsecond). The model's checks audit the result before anything is
published; the single statement ``CREATE OR REPLACE VIEW <model> AS SELECT * FROM
<model>__v<version>`` then publishes it, so readers see the old version or the new one, never a
half-written table. Incremental strategies build the new version from a copy of the published
one plus the batch (their row changes touch only the unpublished copy). A write that dies
leaves an unpublished version behind; the model's next write drops it. Versions older than the
published one are dropped beyond ``Capabilities.versions_kept``.

These functions are pure (names in, names out); :class:`~interlace.materialize.publish.
TablePublisher` runs the statements.
"""

from __future__ import annotations

import datetime as dt
import re

import sqlglot
from sqlglot import exp

MARK = "__v"
_DIGITS = 20  # %Y%m%d%H%M%S%f


def version_name(model: str, when: dt.datetime) -> str:
    """The table of the version of ``model`` written at ``when`` (sorts by time)."""
    return f"{model}{MARK}{when:%Y%m%d%H%M%S%f}"


def is_version(model: str, name: str) -> bool:
    """Whether ``name`` is a version table of ``model``."""
    return re.fullmatch(re.escape(model + MARK) + rf"\d{{{_DIGITS}}}", name) is not None


def shown_version(model: str, view_sql: str, dialect: str) -> str | None:
    """The version table a model's view reads, from the view's SQL; None when the view is no
    versioned publish of ``model`` (a view model, or a view someone else wrote)."""
    try:
        parsed = sqlglot.parse_one(view_sql, read=dialect)
    except sqlglot.errors.ParseError:
        return None
    tables = list(parsed.find_all(exp.Table))
    if len(tables) != 1 or not is_version(model, tables[0].name):
        return None
    return tables[0].name


def leftovers(model: str, existing: list[str], shown: str | None) -> list[str]:
    """Versions a write that died left behind: newer than the published one (all of them
    when none is published)."""
    return sorted(n for n in existing if is_version(model, n) and (shown is None or n > shown))


def expired(model: str, existing: list[str], published: str, kept: int) -> list[str]:
    """Versions older than ``published`` beyond the ``kept`` newest of them."""
    older = sorted((n for n in existing if is_version(model, n) and n < published), reverse=True)
    return sorted(older[kept:])
