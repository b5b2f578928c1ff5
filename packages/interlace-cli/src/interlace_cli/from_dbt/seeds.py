"""dbt seeds -> Interlace seeds: the CSV files are copied to ``seeds/``, their schema, column
types and descriptions go to the ``seeds:`` section of ``config.yaml`` and their tests to
``quality.checks``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from interlace.types import TypeSpecError, to_sql_type

from interlace_cli.from_dbt.models import merged_tags, resource_path
from interlace_cli.from_dbt.render import Unconvertible
from interlace_cli.from_dbt.schema_tests import to_checks

if TYPE_CHECKING:
    from pathlib import Path

    from interlace_cli.from_dbt.project import DbtProject
    from interlace_cli.from_dbt.render import Renderer
    from interlace_cli.from_dbt.report import Report
    from interlace_cli.from_dbt.schema_tests import Properties

_QUIET = {"schema", "column_types", "enabled", "docs", "persist_docs", "meta", "delimiter"}


@dataclass
class SeedsOut:
    copies: list[tuple[Path, str]] = field(default_factory=list)  # (dbt file, "seeds/x.csv")
    section: dict[str, Any] = field(default_factory=dict)  # config.yaml `seeds:`
    checks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    relations: dict[str, str] = field(default_factory=dict)  # "schema.name" -> seed name


def seed_files(dbt: DbtProject) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in dbt.files(dbt.seed_paths, (".csv",)):
        found.setdefault(path.stem, path)
    return found


def convert_seeds(
    dbt: DbtProject, properties: Properties, renderer: Renderer, report: Report
) -> SeedsOut:
    out = SeedsOut()
    schemas: dict[str, str] = {}
    column_types: dict[str, dict[str, str]] = {}
    descriptions: dict[str, str] = {}
    taken: dict[str, str] = {}
    for path in dbt.files(dbt.seed_paths, (".csv",)):
        rel = dbt.rel(path)
        name = path.stem
        if name in taken:
            report.add(rel, None, f"seed '{name}' is also {taken[name]}: not converted")
            continue
        taken[name] = rel
        below = resource_path(dbt, path, dbt.seed_paths)
        tree = dbt.config("seeds", [*below.parts[:-1], name])
        node = properties.node("seeds", name)
        yml = node.config if node is not None else {}
        config = {**tree, **yml}
        if config.get("enabled") is False:
            report.add(rel, None, f"seed '{name}' is disabled in dbt: not converted")
            continue
        where = (
            (node.file, node.line)
            if node is not None and yml
            else (
                "dbt_project.yml",
                dbt.line("seeds"),
            )
        )
        out.copies.append((path, f"seeds/{below.as_posix()}"))
        report.count("seeds")
        if config.get("schema"):
            schemas[name] = str(config["schema"])
        types = _column_types(name, config.get("column_types"), where, report)
        if types:
            column_types[name] = types
        if node is not None and node.description:
            description = str(node.description)
            if "{{" in description:
                try:
                    description = renderer.value(description, (node.file, node.line))
                except Unconvertible as exc:
                    report.add(exc.file or node.file, exc.line, f"seed '{name}': {exc.message}")
                    description = ""
            if description.strip():
                descriptions[name] = description.strip()
        if merged_tags(config):
            report.add(*where, f"seed '{name}': tags are not converted (seeds share `seeds.tags`)")
        for key in config:
            if key not in _QUIET and key != "tags":
                report.add(*where, f"seed '{name}': config `{key}` is not converted")
        if node is not None:
            checks = to_checks(node.tests, renderer, report, f"seed '{name}'")
            if checks:
                out.checks[name] = checks
                report.count("checks", len(checks))
    common = Counter(schemas.values()).most_common(1)
    default_schema = common[0][0] if common else None
    if default_schema is not None:
        out.section["schema"] = default_schema
    others = {n: s for n, s in schemas.items() if s != default_schema}
    if others:
        out.section["schemas"] = others
    if column_types:
        out.section["column_types"] = column_types
    if descriptions:
        out.section["descriptions"] = descriptions
    for path, _target in out.copies:
        out.relations[f"{schemas.get(path.stem, 'main')}.{path.stem}"] = path.stem
    return out


def _column_types(
    name: str, declared: Any, where: tuple[str, int | None], report: Report
) -> dict[str, str]:
    if not isinstance(declared, dict):
        return {}
    types: dict[str, str] = {}
    for column, type_name in declared.items():
        try:
            to_sql_type(str(type_name))
        except TypeSpecError:
            report.add(
                *where,
                f"seed '{name}': column type {type_name!r} of '{column}' is not one DuckDB "
                "knows; the type is detected from the file",
            )
            continue
        types[str(column)] = str(type_name)
    return types


__all__ = ["SeedsOut", "convert_seeds", "seed_files"]
