"""dbt models -> Interlace SQL models: the rendered query under ``-- @key: value`` headers.

A model's configuration is dbt's (``dbt_project.yml`` folders, then its property file, then
its own ``config()``): ``materialized`` becomes ``materialize`` (and ``incremental`` a
``merge_by_key`` table when it has a ``unique_key``), ``schema`` and ``tags`` carry over,
the description and the schema tests (as checks) come from the property file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from interlace_cli.from_dbt.render import Unconvertible
from interlace_cli.from_dbt.schema_tests import to_checks

if TYPE_CHECKING:
    from pathlib import Path

    from interlace_cli.from_dbt.project import DbtProject
    from interlace_cli.from_dbt.render import Renderer
    from interlace_cli.from_dbt.report import Report
    from interlace_cli.from_dbt.schema_tests import Node, Properties

MATERIALIZE = {"table": "table", "view": "view", "ephemeral": "ephemeral", "incremental": "table"}
# config keys that are converted, or only document the node (nothing to report)
HANDLED = {
    "materialized",
    "schema",
    "tags",
    "enabled",
    "unique_key",
    "incremental_strategy",
    "on_schema_change",
    "docs",
    "persist_docs",
    "meta",
    "access",
    "group",
    "full_refresh",
    "contract",
    "description",
    "column_types",
    "quote_columns",
    "delimiter",
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class OutModel:
    """An Interlace SQL model to write."""

    name: str
    path: str  # in the new project: "models/staging/stg_orders.sql"
    header: dict[str, Any]
    sql: str
    notes: list[str] = field(default_factory=list)


@dataclass
class Unconverted:
    """A dbt file that could not be rendered; copied to ``dbt_unconverted/``."""

    path: Path
    rel: str


def model_names(dbt: DbtProject) -> dict[str, Path]:
    """Model name -> file, for every SQL model of the project."""
    return {path.stem: path for path in dbt.files(dbt.model_paths, (".sql",))}


def default_materialize(dbt: DbtProject) -> str:
    """What the project materializes models as unless they say otherwise (dbt: views)."""
    root = dbt.config("models", [])
    return MATERIALIZE.get(str(root.get("materialized", "view")), "view")


def convert_models(
    dbt: DbtProject,
    renderer: Renderer,
    properties: Properties,
    report: Report,
    *,
    default: str,
) -> tuple[list[OutModel], list[Unconverted]]:
    models: list[OutModel] = []
    failed: list[Unconverted] = []
    for path in dbt.files(dbt.model_paths, (".py",)):
        report.add(
            dbt.rel(path),
            1,
            "Python models of dbt are not converted",
            "rewrite it as an Interlace Python model (@model; docs/models.md)",
        )
    for name, path in model_names(dbt).items():
        rel = dbt.rel(path)
        folders = list(resource_path(dbt, path, dbt.model_paths).parts[:-1])
        node = properties.node("models", name)
        tree = dbt.config("models", [*folders, name])
        text = path.read_text(encoding="utf-8")
        try:
            rendered = renderer.render(rel, text, name)
        except Unconvertible as exc:
            report.add(exc.file or rel, exc.line, f"model '{name}' not converted: {exc.message}")
            failed.append(Unconverted(path, rel))
            continue
        yml = node.config if node is not None else {}
        config = {**tree, **yml, **rendered.config}
        config["tags"] = merged_tags(tree, yml, rendered.config)
        if config.get("enabled") is False:
            report.add(
                rel, rendered.config_line, f"model '{name}' is disabled in dbt: not converted"
            )
            continue
        where = _Where(rel, rendered.config_line, node, dbt, tree, yml, rendered.config)
        header = _header(name, config, default, where, report, "is_incremental" in text)
        header["description"] = _description(node, renderer, report)
        checks = to_checks(node.tests, renderer, report, f"model '{name}'") if node else []
        report.count("checks", len(checks))
        header["quality_checks"] = checks or None
        below = resource_path(dbt, path, dbt.model_paths).as_posix()
        models.append(
            OutModel(name, f"models/{below}", header, clean_sql(rendered.sql), _notes(node))
        )
        report.count("models")
    return models, failed


@dataclass
class _Where:
    """Where a config key of one node was set: its file's config(), its property file, or
    dbt_project.yml."""

    rel: str
    config_line: int | None
    node: Node | None
    dbt: DbtProject
    tree: dict[str, Any]
    yml: dict[str, Any]
    own: dict[str, Any]
    resource: str = "models"

    def __call__(self, key: str) -> tuple[str, int | None]:
        if key in self.own:
            return self.rel, self.config_line
        if key in self.yml and self.node is not None:
            return self.node.file, self.node.line
        return "dbt_project.yml", self.dbt.config_line(self.resource, key)


def _header(
    name: str,
    config: dict[str, Any],
    default: str,
    where: _Where,
    report: Report,
    filtered: bool,
) -> dict[str, Any]:
    header: dict[str, Any] = {}
    materialized = str(config.get("materialized", "view"))
    materialize = MATERIALIZE.get(materialized)
    if materialize is None:
        report.add(
            *where("materialized"),
            f"model '{name}': materialization '{materialized}' has no Interlace counterpart; "
            "it is built as a table",
        )
        materialize = "table"
    if materialize != default:
        header["materialize"] = materialize
    header["schema"] = config.get("schema")
    if materialized == "incremental":
        header.update(_incremental(name, config, where, report, filtered))
    if config.get("on_schema_change") == "fail":
        header["schema_mode"] = "strict"
    header["tags"] = config.get("tags") or None
    for key in config:
        if key in HANDLED:
            continue
        todo = None
        if key == "alias":
            todo = f"the table keeps the model's name '{name}'; rename the file to change it"
        elif key in ("pre-hook", "post-hook", "pre_hook", "post_hook"):
            todo = "run such statements in a `-- @materialize: none` model"
        report.add(*where(key), f"model '{name}': config `{key}` is not converted", todo)
    return header


def _incremental(
    name: str, config: dict[str, Any], where: _Where, report: Report, filtered: bool
) -> dict[str, Any]:
    key = config.get("unique_key")
    keys = [key] if isinstance(key, str) else list(key or [])
    strategy = config.get("incremental_strategy")
    if strategy in ("microbatch", "insert_overwrite"):
        report.add(
            *where("incremental_strategy"),
            f"model '{name}': incremental strategy '{strategy}' is not converted",
        )
    if keys and all(_IDENTIFIER.match(str(k)) for k in keys):
        if filtered:
            report.add(
                *where("materialized"),
                f"model '{name}': its is_incremental() filter was dropped; each run merges the "
                "whole query's result by key",
                "add `-- @cursor: <timestamp column>` to read only new upstream rows",
            )
        return {"strategy": "merge_by_key", "primary_key": keys[0] if len(keys) == 1 else keys}
    report.add(
        *where("materialized"),
        f"model '{name}': incremental without a unique_key made of columns: converted as a "
        "table rebuilt by each run",
        "for an incremental append, add `-- @strategy: append` and `-- @cursor: <column>`",
    )
    return {}


def merged_tags(*levels: dict[str, Any]) -> list[str]:
    tags: list[str] = []
    for level in levels:
        value = level.get("tags")
        for tag in [value] if isinstance(value, str) else list(value or []):
            if str(tag) not in tags:
                tags.append(str(tag))
    return tags


def _description(node: Node | None, renderer: Renderer, report: Report) -> str | None:
    if node is None or not node.description:
        return None
    text = str(node.description)
    if "{{" in text or "{%" in text:
        try:
            text = renderer.value(text, (node.file, node.line))
        except Unconvertible as exc:
            report.add(
                exc.file or node.file, exc.line, f"description of '{node.name}': {exc.message}"
            )
            return None
    return text.strip() or None


def _notes(node: Node | None) -> list[str]:
    """Column descriptions, kept as comments above the query."""
    if node is None:
        return []
    return [
        f"column {c.name}: {' '.join(str(c.description).split())}"
        for c in node.columns
        if c.description and "{{" not in str(c.description)
    ]


def resource_path(dbt: DbtProject, path: Path, folders: list[str]) -> Path:
    """``path`` relative to the resource folder that holds it."""
    for folder in folders:
        base = dbt.root / folder
        if path.is_relative_to(base):
            return path.relative_to(base)
    return path.relative_to(dbt.root)


def clean_sql(sql: str) -> str:
    """Rendered SQL without the blank lines Jinja tags leave, and without a final ';'."""
    lines = [line.rstrip() for line in sql.strip().splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text[:-1].rstrip() if text.endswith(";") else text


__all__ = ["OutModel", "Unconverted", "clean_sql", "convert_models", "default_materialize"]
