"""dbt snapshots -> ``scd_type_2`` models.

A snapshot (a ``{% snapshot %}`` block, or a YAML snapshot with a ``relation``) becomes a SQL
model in ``models/snapshots/`` with ``strategy: scd_type_2`` and ``primary_key`` its
``unique_key``. The ``check`` strategy tracks ``check_cols`` (``all``: every column); the
``timestamp`` strategy tracks ``updated_at`` and takes each version's ``valid_from`` from it
(``scd2.valid_from_column``), as dbt does. ``hard_deletes``: ``ignore`` -> ``ignore``,
``invalidate`` -> ``soft``, ``new_record`` -> ``soft_mark``. The validity columns keep dbt's
names (``dbt_valid_from``, ``dbt_valid_to``, ``dbt_is_deleted``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from interlace_cli.from_dbt.models import (
    OutModel,
    Unconverted,
    clean_sql,
    merged_tags,
    resource_path,
)
from interlace_cli.from_dbt.render import Unconvertible
from interlace_cli.from_dbt.schema_tests import to_checks

if TYPE_CHECKING:
    from interlace_cli.from_dbt.project import DbtProject
    from interlace_cli.from_dbt.render import Renderer
    from interlace_cli.from_dbt.report import Report
    from interlace_cli.from_dbt.schema_tests import Node, Properties

DELETE_MODES = {"ignore": None, "invalidate": "soft", "new_record": "soft_mark"}
META_COLUMNS = {
    "dbt_valid_from": "valid_from",
    "dbt_valid_to": "valid_to",
    "dbt_is_deleted": "deleted_column",
}
HANDLED = {
    "strategy",
    "unique_key",
    "updated_at",
    "check_cols",
    "target_schema",
    "schema",
    "hard_deletes",
    "invalidate_hard_deletes",
    "snapshot_meta_column_names",
    "tags",
    "enabled",
    "docs",
    "meta",
    "persist_docs",
    "materialized",
    "description",
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Skip(Exception):
    pass


def convert_snapshots(
    dbt: DbtProject, renderer: Renderer, properties: Properties, report: Report
) -> tuple[list[OutModel], list[Unconverted]]:
    out: list[OutModel] = []
    failed: list[Unconverted] = []
    for path in dbt.files(dbt.snapshot_paths, (".sql",)):
        rel = dbt.rel(path)
        try:
            blocks = renderer.snapshots(rel, path.read_text(encoding="utf-8"))
        except Unconvertible as exc:
            report.add(exc.file or rel, exc.line, f"snapshot file not converted: {exc.message}")
            failed.append(Unconverted(path, rel))
            continue
        folders = list(resource_path(dbt, path, dbt.snapshot_paths).parts[:-1])
        for block in blocks:
            node = properties.node("snapshots", block.name)
            tree = dbt.config("snapshots", [*folders, block.name])
            own = {**block.config}
            model = _snapshot(
                block.name,
                block.body,
                tree,
                node,
                own,
                (rel, block.config_line or block.line),
                renderer,
                report,
            )
            if model is None:
                failed.append(Unconverted(path, rel))
            else:
                out.append(model)
    for (resource, name), node in properties.nodes.items():
        relation = node.raw.get("relation")
        if resource != "snapshots" or not relation:
            continue
        try:
            table = renderer.value("{{ " + str(relation) + " }}", (node.file, node.line))
        except Unconvertible as exc:
            report.add(exc.file or node.file, exc.line, f"snapshot '{name}': {exc.message}")
            continue
        tree = dbt.config("snapshots", [name])
        model = _snapshot(
            name, f"select * from {table}", tree, node, {}, (node.file, node.line), renderer, report
        )
        if model is not None:
            out.append(model)
    return out, failed


def _snapshot(
    name: str,
    sql: str,
    tree: dict[str, Any],
    node: Node | None,
    own: dict[str, Any],
    where: tuple[str, int | None],
    renderer: Renderer,
    report: Report,
) -> OutModel | None:
    yml = node.config if node is not None else {}
    config = {**tree, **yml, **own}
    if config.get("enabled") is False:
        report.add(*where, f"snapshot '{name}' is disabled in dbt: not converted")
        return None
    try:
        header = _header(name, config, where, report)
    except _Skip as exc:
        report.add(*where, f"snapshot '{name}' not converted: {exc}")
        return None
    if node is not None:
        checks = to_checks(node.tests, renderer, report, f"snapshot '{name}'")
        header["quality_checks"] = checks or None
        report.count("checks", len(checks))
        if node.description:
            header["description"] = str(node.description).strip()
    report.count("snapshots")
    return OutModel(name, f"models/snapshots/{name}.sql", header, clean_sql(sql))


def _header(
    name: str, config: dict[str, Any], where: tuple[str, int | None], report: Report
) -> dict[str, Any]:
    header: dict[str, Any] = {}
    schema = config.get("target_schema") or config.get("schema")
    if schema:
        header["schema"] = str(schema)
    header["strategy"] = "scd_type_2"
    key = config.get("unique_key")
    keys = [key] if isinstance(key, str) else list(key or [])
    if not keys:
        raise _Skip("it has no unique_key")
    bad = [k for k in keys if not _IDENTIFIER.match(str(k))]
    if bad:
        raise _Skip(
            f"unique_key {bad[0]!r} is an expression; Interlace keys are columns (compute the "
            "key as a column in the query and name it)"
        )
    header["primary_key"] = keys[0] if len(keys) == 1 else keys
    mode = config.get("hard_deletes")
    if mode is None and config.get("invalidate_hard_deletes"):
        mode = "invalidate"
    if mode is not None and mode not in DELETE_MODES:
        report.add(*where, f"snapshot '{name}': hard_deletes '{mode}' is not converted")
    elif DELETE_MODES.get(str(mode)) is not None:
        header["delete_mode"] = DELETE_MODES[str(mode)]
    scd2: dict[str, Any] = {}
    strategy = config.get("strategy")
    if strategy == "timestamp":
        updated_at = config.get("updated_at")
        if not updated_at or not _IDENTIFIER.match(str(updated_at)):
            raise _Skip("the timestamp strategy needs updated_at, a column")
        scd2 = {"tracked_columns": [str(updated_at)], "valid_from_column": str(updated_at)}
    elif strategy == "check":
        columns = config.get("check_cols", "all")
        if columns != "all":
            listed = [columns] if isinstance(columns, str) else list(columns)
            bad = [c for c in listed if not _IDENTIFIER.match(str(c))]
            if bad:
                raise _Skip(f"check_cols {bad[0]!r} is an expression, not a column")
            scd2["tracked_columns"] = [str(c) for c in listed]
    else:
        raise _Skip(f"strategy {strategy!r} is neither timestamp nor check")
    names = {"dbt_valid_from": "dbt_valid_from", "dbt_valid_to": "dbt_valid_to"}
    names["dbt_is_deleted"] = "dbt_is_deleted"
    custom = config.get("snapshot_meta_column_names") or {}
    if isinstance(custom, dict):
        names.update({k: str(v) for k, v in custom.items() if k in names})
    scd2["valid_from"] = names["dbt_valid_from"]
    scd2["valid_to"] = names["dbt_valid_to"]
    if header.get("delete_mode") == "soft_mark":
        scd2["deleted_column"] = names["dbt_is_deleted"]
    header["scd2"] = scd2
    header["tags"] = merged_tags(config) or None
    report.add(
        *where,
        f"snapshot '{name}': dbt_scd_id and dbt_updated_at are not written (Interlace keeps "
        "is_current and _scd_hash instead)",
    )
    for key in config:
        if key not in HANDLED:
            report.add(*where, f"snapshot '{name}': config `{key}` is not converted")
    return header


__all__ = ["convert_snapshots"]
