"""What a project load needs from each SQL model, cached by the SQL's text.

Loading a project parses every SQL file, and a change-detection run needs each model's canonical
SQL; for a project of a thousand models that is most of a no-op run. The facts a load needs
(statement kind, table references, canonical SQL) are stored in ``.interlace/parse-cache.json``
keyed by a hash of the dialect and the SQL text, and the full AST is parsed only when a model
actually runs (:class:`LazyQueries`). A failed parse is never cached, so errors still surface.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from interlace import statements as st
from interlace.sql_models import QUERY_TYPES, parse_query, table_references

if TYPE_CHECKING:
    from sqlglot import exp

CACHE_VERSION = 2  # 2: references keep their database (attachment) part


@dataclass(frozen=True)
class ParsedSQL:
    kind: str  # the statement's key, e.g. "select"
    is_query: bool
    refs: tuple[str, ...]  # tables it reads: "name" or "schema.name"
    canonical: str  # formatting- and comment-free SQL (for fingerprints)


def describe(query: exp.Expr, dialect: str, *, consume: bool = False) -> ParsedSQL:
    """The load's facts of a parsed query. ``consume=True`` lets the canonical SQL be generated
    from ``query`` itself, which the generator rewrites (names normalized): cheaper than the
    copy it otherwise makes (copying an AST costs more than parsing it), but the caller must
    not use ``query`` afterwards."""
    refs = tuple(st.reference(t) for t in table_references(query))
    return ParsedSQL(
        kind=query.key,
        is_query=isinstance(query, QUERY_TYPES),
        refs=refs,
        canonical=query.sql(dialect=dialect, comments=False, normalize=True, copy=not consume),
    )


def _key(dialect: str, sql: str) -> str:
    return hashlib.sha256(f"{dialect}\0{sql}".encode()).hexdigest()[:40]


class ParseCache:
    """A JSON file of :class:`ParsedSQL` by SQL hash; unused entries are dropped on save."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = f"{CACHE_VERSION}:{version('sqlglot')}"
        self._entries: dict[str, ParsedSQL] = {}
        self._used: set[str] = set()
        self._dirty = False
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("stamp") == self._stamp:
                self._entries = {
                    k: ParsedSQL(v["kind"], v["is_query"], tuple(v["refs"]), v["canonical"])
                    for k, v in data["entries"].items()
                }
        except (OSError, ValueError, KeyError, TypeError):
            self._entries = {}

    def lookup(self, dialect: str, sql: str) -> ParsedSQL | None:
        key = _key(dialect, sql)
        entry = self._entries.get(key)
        if entry is not None:
            self._used.add(key)
        return entry

    def store(self, dialect: str, sql: str, entry: ParsedSQL) -> None:
        key = _key(dialect, sql)
        self._entries[key] = entry
        self._used.add(key)
        self._dirty = True

    def save(self) -> None:
        """Write the cache if it changed; a cache that cannot be written is simply skipped."""
        if not self._dirty and len(self._used) == len(self._entries):
            return
        data = {
            "stamp": self._stamp,
            "entries": {k: asdict(v) for k, v in self._entries.items() if k in self._used},
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            partial.write_text(json.dumps(data), encoding="utf-8")
            partial.replace(self.path)
        except OSError:
            pass


@dataclass(frozen=True)
class _Source:
    sql: str
    dialect: str
    file: str
    line: int


class LazyQueries(Mapping[str, "exp.Expr"]):
    """Model name -> parsed query, parsed on first use (a model that does not run is never
    parsed when its facts came from the cache)."""

    def __init__(self) -> None:
        self._sources: dict[str, _Source] = {}
        self._parsed: dict[str, exp.Expr] = {}
        self._lock = threading.Lock()

    def add(
        self,
        name: str,
        sql: str,
        dialect: str,
        file: str,
        line: int,
        parsed: exp.Expr | None = None,
    ) -> None:
        self._sources[name] = _Source(sql, dialect, file, line)
        if parsed is not None:
            self._parsed[name] = parsed

    def __getitem__(self, name: str) -> exp.Expr:
        query = self._parsed.get(name)
        if query is not None:
            return query
        source = self._sources[name]
        query = parse_query(
            source.sql,
            file=source.file,
            line_offset=source.line,
            model=name,
            dialect=source.dialect,
        )
        with self._lock:
            return self._parsed.setdefault(name, query)

    def fresh(self, name: str) -> exp.Expr:
        """A tree of the model's query the caller may change: parsed again from its SQL,
        which is cheaper than copying a parsed tree."""
        source = self._sources.get(name)
        if source is None:
            return self[name].copy()
        return parse_query(
            source.sql,
            file=source.file,
            line_offset=source.line,
            model=name,
            dialect=source.dialect,
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)

    def __contains__(self, name: object) -> bool:
        return name in self._sources
