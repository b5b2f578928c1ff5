"""dbt property files (``schema.yml``): descriptions, sources, and schema tests as checks.

``not_null``, ``unique``, ``accepted_values`` and ``relationships`` (and dbt_utils'
``unique_combination_of_columns``, ``expression_is_true`` and ``accepted_range``) become
Interlace quality checks; ``severity``, ``where`` and ``name`` carry over. Any other test is
reported with its file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from interlace.config_files import KeyLocations, read_yaml
from interlace.errors import ConfigError

from interlace_cli.from_dbt.render import Unconvertible

if TYPE_CHECKING:
    from interlace_cli.from_dbt.project import DbtProject
    from interlace_cli.from_dbt.render import Renderer
    from interlace_cli.from_dbt.report import Report

RESOURCES = ("models", "seeds", "snapshots")
# top-level keys of property files that have no Interlace counterpart
UNCONVERTED = {
    "exposures": "exposures are not converted (Interlace has no exposures)",
    "metrics": "metrics are not converted",
    "semantic_models": "semantic models are not converted",
    "saved_queries": "saved queries are not converted",
    "unit_tests": "unit tests are not converted: write them with interlace.testing "
    "(test_model, mock_dependency; see docs/testing.md)",
    "analyses": "analyses are not converted",
    "groups": "groups are not converted",
}
# test keys that only document or tune dbt's own test runner
_QUIET_TEST_KEYS = {"tags", "meta", "store_failures", "store_failures_as", "limit", "quote"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Test:
    """One declared dbt test, where it is written, and the column it is under (if any)."""

    declared: Any
    file: str
    line: int | None
    column: str | None = None


@dataclass
class Column:
    name: str
    description: str | None = None


@dataclass
class Node:
    """A model, seed or snapshot as a property file describes it."""

    resource: str
    name: str
    file: str
    line: int | None
    description: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    columns: list[Column] = field(default_factory=list)
    tests: list[Test] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class SourceTable:
    source: str
    name: str
    relation: str  # schema.identifier, the table it names
    file: str
    line: int | None
    description: str | None = None
    tests: list[Test] = field(default_factory=list)


@dataclass
class Properties:
    nodes: dict[tuple[str, str], Node] = field(default_factory=dict)
    sources: dict[tuple[str, str], SourceTable] = field(default_factory=dict)

    def node(self, resource: str, name: str) -> Node | None:
        return self.nodes.get((resource, name))


def read_properties(dbt: DbtProject, report: Report) -> Properties:
    """Every property file under the model, seed and snapshot folders."""
    found = Properties()
    folders = [*dbt.model_paths, *dbt.seed_paths, *dbt.snapshot_paths, *dbt.macro_paths]
    for path in dbt.files(folders, (".yml", ".yaml")):
        rel = dbt.rel(path)
        locations = KeyLocations()
        try:
            data = read_yaml(path, locations)
        except ConfigError as exc:
            report.add(rel, exc.line, f"property file not read: {exc.message}")
            continue

        def line(*keys: Any, _locations: KeyLocations = locations) -> int | None:
            return _locations.where(tuple(str(k) for k in keys))[1]

        for key, what in UNCONVERTED.items():
            if data.get(key):
                report.add(rel, line(key), what)
        for resource in RESOURCES:
            for i, entry in enumerate(data.get(resource) or []):
                if not isinstance(entry, dict) or "name" not in entry:
                    continue
                node = _node(resource, entry, rel, (resource, i), line)
                found.nodes[(resource, node.name)] = node
        for i, source in enumerate(data.get("sources") or []):
            if isinstance(source, dict) and "name" in source:
                _source(source, rel, ("sources", i), line, found, report)
    return found


def _tests(
    entry: dict[str, Any], path: tuple[Any, ...], rel: str, line: Any, column: str | None
) -> list[Test]:
    found = []
    for key in ("tests", "data_tests"):
        for j, declared in enumerate(entry.get(key) or []):
            found.append(Test(declared, rel, line(*path, key, j), column))
    return found


def _node(resource: str, entry: dict[str, Any], rel: str, path: tuple[Any, ...], line: Any) -> Node:
    node = Node(
        resource=resource,
        name=str(entry["name"]),
        file=rel,
        line=line(*path),
        description=entry.get("description"),
        config=dict(entry.get("config") or {}),
        raw=entry,
    )
    node.tests = _tests(entry, path, rel, line, None)
    for j, column in enumerate(entry.get("columns") or []):
        if not isinstance(column, dict) or "name" not in column:
            continue
        name = str(column["name"])
        node.columns.append(Column(name, column.get("description")))
        node.tests += _tests(column, (*path, "columns", j), rel, line, name)
    return node


def _source(
    source: dict[str, Any],
    rel: str,
    path: tuple[Any, ...],
    line: Any,
    found: Properties,
    report: Report,
) -> None:
    name = str(source["name"])
    schema = str(source.get("schema") or name)
    if source.get("database"):
        report.add(
            rel,
            line(*path, "database"),
            f"source '{name}': database '{source['database']}' is not converted; its tables "
            f"are read as {schema}.<table>",
            "attach that database to the connection (attach: in config.yaml) if it is another one",
        )
    if source.get("freshness") or source.get("loaded_at_field"):
        report.add(
            rel,
            line(*path, "freshness") or line(*path, "loaded_at_field"),
            f"source '{name}': freshness is not converted",
            "add a freshness check ({freshness: {column: ..., max_age: 1d}}) to the model that "
            "reads the source",
        )
    for j, table in enumerate(source.get("tables") or []):
        if not isinstance(table, dict) or "name" not in table:
            continue
        at = (*path, "tables", j)
        table_name = str(table["name"])
        identifier = str(table.get("identifier") or table_name)
        entry = SourceTable(
            source=name,
            name=table_name,
            relation=f"{schema}.{identifier}",
            file=rel,
            line=line(*at),
            description=table.get("description"),
        )
        entry.tests = _tests(table, at, rel, line, None)
        for k, column in enumerate(table.get("columns") or []):
            if isinstance(column, dict) and "name" in column:
                entry.tests += _tests(column, (*at, "columns", k), rel, line, str(column["name"]))
        found.sources[(name, table_name)] = entry


# --------------------------------------------------------------------------- tests -> checks


def to_checks(
    tests: list[Test], renderer: Renderer, report: Report, owner: str
) -> list[dict[str, Any]]:
    """The Interlace checks of a node's dbt tests (``owner`` names the node in messages);
    tests without a counterpart are reported."""
    checks: list[dict[str, Any]] = []
    for test in tests:
        try:
            check = _check(test, renderer)
        except _NotConverted as exc:
            report.add(test.file, test.line, f"{owner}: {exc.what}", exc.todo)
            continue
        except Unconvertible as exc:
            report.add(exc.file or test.file, exc.line or test.line, f"{owner}: {exc.message}")
            continue
        if check not in checks:
            checks.append(check)
    return checks


class _NotConverted(Exception):
    def __init__(self, what: str, todo: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.todo = todo


def _split(declared: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(declared, str):
        return declared, {}
    if isinstance(declared, dict):
        if "test_name" in declared:
            rest = {k: v for k, v in declared.items() if k != "test_name"}
            return str(declared["test_name"]), rest
        if len(declared) == 1:
            kind, params = next(iter(declared.items()))
            if params is None:
                params = {}
            if not isinstance(params, dict):
                raise _NotConverted(f"test {kind!r} has parameters {params!r} that are no mapping")
            return str(kind), dict(params)
    raise _NotConverted(f"test {declared!r} is not in a form this converter reads")


def _check(test: Test, renderer: Renderer) -> dict[str, Any]:
    kind, params = _split(test.declared)
    config = dict(params.pop("config", None) or {})
    arguments = dict(params.pop("arguments", None) or {})
    params = {**params, **arguments}
    common: dict[str, Any] = {}
    for key, value in {**params, **config}.items():
        if key == "severity":
            common["severity"] = "warn" if str(value).lower() == "warn" else "error"
        elif key == "where" and value:
            common["where"] = str(value)
        elif key == "name" and value:
            common["name"] = str(value)
        elif key in ("error_if", "warn_if", "fail_calc"):
            raise _NotConverted(
                f"test {kind}: `{key}` is not converted (an Interlace check fails on any "
                "failing row)",
                "drop it, or write an expression check with the threshold",
            )
        elif key in _QUIET_TEST_KEYS:
            continue
    for key in ("severity", "where", "name", *config, *_QUIET_TEST_KEYS):
        params.pop(key, None)
    column = params.pop("column_name", None) or test.column
    body = _check_body(kind, params, column, renderer, (test.file, test.line))
    return {**body, **common}


def _needs_column(kind: str, column: Any) -> str:
    if not column:
        raise _NotConverted(f"test {kind} has no column")
    name = str(column)
    if not _IDENTIFIER.match(name):
        raise _NotConverted(
            f"test {kind} on the expression {name!r}: Interlace checks name columns",
            "write an expression check, e.g. {expression: 'x is not null'}",
        )
    return name


def _check_body(
    kind: str,
    params: dict[str, Any],
    column: Any,
    renderer: Renderer,
    where: tuple[str, int | None],
) -> dict[str, Any]:
    if kind in ("not_null", "unique"):
        return {kind: _needs_column(kind, column)}
    if kind == "accepted_values":
        values = params.get("values")
        if not isinstance(values, list):
            raise _NotConverted("test accepted_values has no list of values")
        return {"accepted_values": {"column": _needs_column(kind, column), "values": values}}
    if kind == "relationships":
        to = params.get("to")
        if not to:
            raise _NotConverted("test relationships has no `to`")
        target = str(to)
        if "(" in target:  # ref('customers') / source('shop', 'customers')
            target = renderer.value("{{ " + target + " }}", where)
        body: dict[str, Any] = {"column": _needs_column(kind, column), "to": target}
        field_name = params.get("field")
        if field_name and str(field_name) != body["column"]:
            body["field"] = str(field_name)
        return {"relationships": body}
    if kind == "dbt_utils.unique_combination_of_columns":
        columns = params.get("combination_of_columns")
        if not isinstance(columns, list) or not columns:
            raise _NotConverted(f"test {kind} has no combination_of_columns")
        return {"unique": [str(c) for c in columns]}
    if kind == "dbt_utils.expression_is_true":
        expression = params.get("expression")
        if not expression:
            raise _NotConverted(f"test {kind} has no expression")
        text = f"{column} {expression}" if column else str(expression)
        return {"expression": text}
    if kind == "dbt_utils.accepted_range":
        bounds: dict[str, Any] = {"column": _needs_column(kind, column)}
        if params.get("min_value") is not None:
            bounds["min"] = params["min_value"]
        if params.get("max_value") is not None:
            bounds["max"] = params["max_value"]
        if "inclusive" in params:
            bounds["inclusive"] = bool(params["inclusive"])
        return {"range": bounds}
    raise _NotConverted(
        f"test `{kind}` has no Interlace check",
        "Interlace checks: not_null, unique, accepted_values, relationships, row_count, "
        "freshness, expression, range (docs/quality.md)",
    )


__all__ = ["Node", "Properties", "SourceTable", "Test", "read_properties", "to_checks"]
