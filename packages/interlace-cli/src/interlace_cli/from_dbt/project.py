"""Reading a dbt project: ``dbt_project.yml``, its paths and vars, and the configuration a node
gets from the ``models:`` / ``seeds:`` / ``snapshots:`` trees (folder by folder, as dbt does)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace.config_files import KeyLocations, read_yaml
from interlace.errors import ConfigError, ProjectError

if TYPE_CHECKING:
    from interlace_cli.from_dbt.report import Report

PROJECT_FILE = "dbt_project.yml"

# config keys whose value is a mapping (so a mapping under them is no folder)
MAPPING_CONFIGS = frozenset(
    {
        "column_types",
        "meta",
        "docs",
        "persist_docs",
        "grants",
        "contract",
        "snapshot_meta_column_names",
        "partition_by",
        "labels",
    }
)
# every config key we know by name (written with or without a leading '+')
KNOWN_CONFIGS = MAPPING_CONFIGS | {
    "materialized",
    "schema",
    "database",
    "alias",
    "tags",
    "enabled",
    "unique_key",
    "incremental_strategy",
    "on_schema_change",
    "full_refresh",
    "pre-hook",
    "post-hook",
    "pre_hook",
    "post_hook",
    "quote_columns",
    "delimiter",
    "strategy",
    "updated_at",
    "check_cols",
    "target_schema",
    "target_database",
    "hard_deletes",
    "invalidate_hard_deletes",
    "dbt_valid_to_current",
    "severity",
    "where",
    "store_failures",
    "limit",
    "sql_header",
    "event_time",
    "batch_size",
    "lookback",
    "begin",
    "cluster_by",
    "access",
    "group",
}


@dataclass
class DbtProject:
    """What ``dbt_project.yml`` says, with the line of every key."""

    root: Path
    name: str
    model_paths: list[str]
    seed_paths: list[str]
    snapshot_paths: list[str]
    macro_paths: list[str]
    test_paths: list[str]
    docs_paths: list[str]
    vars: dict[str, Any]
    trees: dict[str, Any]  # "models", "seeds", "snapshots", "data_tests" -> config tree
    locations: KeyLocations = field(default_factory=KeyLocations)

    def line(self, *path: str) -> int | None:
        """The line of a key of ``dbt_project.yml``."""
        return self.locations.where(path)[1]

    def files(self, paths: list[str], suffixes: tuple[str, ...]) -> list[Path]:
        """Files under the given project folders, sorted, without hidden ones."""
        found: set[Path] = set()
        for folder in paths:
            base = self.root / folder
            if not base.is_dir():
                continue
            for path in base.rglob("*"):
                rel = path.relative_to(base)
                hidden = any(part.startswith(".") for part in rel.parts)
                if path.is_file() and path.name.endswith(suffixes) and not hidden:
                    found.add(path)
        return sorted(found)

    def rel(self, path: Path) -> str:
        """A path relative to the dbt project, as dbt users write it."""
        return path.relative_to(self.root).as_posix()

    def var(self, name: str) -> tuple[bool, Any]:
        """A project var (global, or scoped to this project's name)."""
        scoped = self.vars.get(self.name)
        if isinstance(scoped, dict) and name in scoped:
            return True, scoped[name]
        if name in self.vars and name != self.name:
            return True, self.vars[name]
        return False, None

    def config(self, resource: str, parts: list[str]) -> dict[str, Any]:
        """The configuration the ``resource`` tree (``models``) gives a node whose path below
        its resource folder is ``parts`` (folders, then the node's name), as dbt resolves it:
        deeper levels override, tags add up."""
        tree = self.trees.get(resource)
        found: dict[str, Any] = {}
        if not isinstance(tree, dict):
            return found
        _apply(found, tree)
        level = tree.get(self.name)
        for part in parts:
            if not isinstance(level, dict):
                break
            _apply(found, level)
            level = level.get(part)
        if isinstance(level, dict):
            _apply(found, level)
        return found

    def config_line(self, resource: str, key: str) -> int | None:
        """Roughly where a config key is set in ``dbt_project.yml`` (its first occurrence)."""
        for path, (_file, line) in self.locations.lines.items():
            if path and path[0] == resource and path[-1].lstrip("+") == key:
                return line
        return self.line(resource)


def config_key(key: str, value: Any) -> str | None:
    """The config name a tree key sets (``+materialized`` -> ``materialized``), or None when the
    key is a folder (or node) name."""
    if key.startswith("+"):
        return key[1:]
    if key in KNOWN_CONFIGS and (not isinstance(value, dict) or key in MAPPING_CONFIGS):
        return key
    return None


def _apply(found: dict[str, Any], level: dict[str, Any]) -> None:
    for key, value in level.items():
        name = config_key(str(key), value)
        if name is None:
            continue
        if name == "tags":
            tags = [value] if isinstance(value, str) else list(value or [])
            found["tags"] = [
                *found.get("tags", []),
                *(t for t in tags if t not in found.get("tags", [])),
            ]
        else:
            found[name] = value


def read_project(root: Path, report: Report) -> DbtProject:
    """Read ``dbt_project.yml`` of the dbt project at ``root``."""
    file = root / PROJECT_FILE
    if not file.is_file():
        raise ProjectError(
            f"{root} is not a dbt project: it has no {PROJECT_FILE}",
            hint="pass the folder that holds dbt_project.yml to --from-dbt",
        )
    locations = KeyLocations()
    try:
        data = read_yaml(file, locations)
    except ConfigError as exc:
        raise ProjectError(
            f"cannot read {PROJECT_FILE}: {exc.message}",
            file=str(file),
            line=exc.line,
            hint=exc.hint,
        ) from None

    def paths(key: str, default: list[str], *old: str) -> list[str]:
        for name in (key, *old):
            value = data.get(name)
            if isinstance(value, list):
                return [str(v) for v in value]
        return default

    model_paths = paths("model-paths", ["models"], "source-paths")
    seed_paths = paths("seed-paths", ["seeds"], "data-paths")
    project = DbtProject(
        root=root,
        name=str(data.get("name") or root.name),
        model_paths=model_paths,
        seed_paths=seed_paths,
        snapshot_paths=paths("snapshot-paths", ["snapshots"]),
        macro_paths=paths("macro-paths", ["macros"]),
        test_paths=paths("test-paths", ["tests"]),
        docs_paths=paths("docs-paths", [*model_paths, *seed_paths, "snapshots", "macros"]),
        vars=dict(data.get("vars") or {}),
        trees={key: data.get(key) or {} for key in ("models", "seeds", "snapshots", "data_tests")},
        locations=locations,
    )
    for key in ("on-run-start", "on-run-end"):
        if data.get(key):
            report.add(
                PROJECT_FILE,
                project.line(key),
                f"`{key}` hooks are not converted",
                "run such statements in a `-- @materialize: none` SQL model, or a migration "
                "(migrations/)",
            )
    if data.get("dispatch"):
        report.add(PROJECT_FILE, project.line("dispatch"), "`dispatch` is not converted")
    return project


__all__ = ["PROJECT_FILE", "DbtProject", "config_key", "read_project"]
