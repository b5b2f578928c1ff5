"""``interlace init NAME --from-dbt PATH``: convert a dbt project into an Interlace project.

What converts (one module per concern):

- :mod:`.project`: ``dbt_project.yml`` (paths, vars, the folder-by-folder configuration);
- :mod:`.render`: the Jinja of models and snapshots, rendered with jinja2 (``ref``, ``source``,
  ``config``, ``var``, loops, conditions and the project's own macros);
- :mod:`.models`: models -> SQL models with ``-- @key: value`` headers;
- :mod:`.seeds`: seeds -> ``seeds/`` and the ``seeds:`` config section;
- :mod:`.snapshots`: snapshots -> ``scd_type_2`` models;
- :mod:`.schema_tests`: property files: descriptions, sources, schema tests -> checks;
- :mod:`.report`: ``CONVERSION.md``, exactly what was not converted, with file and line.

Example::

    from interlace_cli.from_dbt import convert

    report = convert(Path("jaffle_shop"), Path("shop"))
    print(report.summary(), len(report.issues))
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

import yaml
from interlace.errors import ProjectError

from interlace_cli.from_dbt.headers import model_file
from interlace_cli.from_dbt.models import convert_models, default_materialize, model_names
from interlace_cli.from_dbt.project import read_project
from interlace_cli.from_dbt.render import Renderer
from interlace_cli.from_dbt.report import Report
from interlace_cli.from_dbt.schema_tests import Properties, read_properties, to_checks
from interlace_cli.from_dbt.seeds import SeedsOut, convert_seeds, seed_files
from interlace_cli.from_dbt.snapshots import convert_snapshots

if TYPE_CHECKING:
    from pathlib import Path

    from interlace_cli.from_dbt.models import OutModel, Unconverted

REPORT_FILE = "CONVERSION.md"
UNCONVERTED_DIR = "dbt_unconverted"

GITIGNORE = """\
data/
.interlace/
.env
"""


def convert(source: Path, target: Path, *, name: str | None = None) -> Report:
    """Convert the dbt project at ``source`` into a new Interlace project at ``target`` (an
    empty or missing folder); returns the report, also written to ``CONVERSION.md``."""
    source = source.resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ProjectError(
            f"{target} already exists and is not empty",
            hint="convert into a new folder: interlace init NEW_NAME --from-dbt PATH",
        )
    report = Report(project=source.name)
    dbt = read_project(source, report)
    report.project = dbt.name
    properties = read_properties(dbt, report)
    names: dict[str, str] = {}
    sources = {key: table.relation for key, table in properties.sources.items()}
    report.count("sources", len(sources))
    renderer = Renderer(dbt, report, names=names, sources=sources)
    names.update({name: name for name in seed_files(dbt)})
    names.update({name: name for name in model_names(dbt)})
    for path in dbt.files(dbt.snapshot_paths, (".sql",)):
        text = path.read_text(encoding="utf-8")
        names.update({n: n for n in renderer.block_names(dbt.rel(path), text, "snapshot")})
    names.update({n: n for (r, n) in properties.nodes if r == "snapshots"})

    seeds = convert_seeds(dbt, properties, renderer, report)
    default = default_materialize(dbt)
    models, failed = convert_models(dbt, renderer, properties, report, default=default)
    snapshots, failed_snapshots = convert_snapshots(dbt, renderer, properties, report)
    _source_tests(properties, seeds, renderer, report)
    for path in dbt.files(dbt.test_paths, (".sql",)):
        report.add(
            dbt.rel(path),
            1,
            "singular test not converted",
            "write it as an expression or row_count check on the model it tests (docs/quality.md)",
        )
    _write(
        target,
        name or target.resolve().name,
        dbt.name,
        default,
        [*models, *snapshots],
        seeds,
        [*failed, *failed_snapshots],
        report,
    )
    return report


def _source_tests(
    properties: Properties, seeds: SeedsOut, renderer: Renderer, report: Report
) -> None:
    """Tests of a source table become checks of the seed that fills it; other source tables
    are not built by Interlace, so their tests are reported."""
    for table in properties.sources.values():
        if not table.tests:
            continue
        seed = seeds.relations.get(table.relation)
        owner = f"source {table.source}.{table.name}"
        if seed is None:
            report.add(
                table.file,
                table.line,
                f"{owner}: its tests are not converted (Interlace checks run on the models it "
                "builds, and nothing builds this table)",
                "add the checks to the model that reads it",
            )
            continue
        checks = to_checks(table.tests, renderer, report, owner)
        existing = seeds.checks.setdefault(seed, [])
        new = [c for c in checks if c not in existing]
        existing += new
        report.count("checks", len(new))


def _write(
    target: Path,
    name: str,
    dbt_name: str,
    default: str,
    models: list[OutModel],
    seeds: SeedsOut,
    failed: list[Unconverted],
    report: Report,
) -> None:
    config: dict[str, Any] = {
        "name": name,
        "connections": {"default": {"type": "duckdb", "path": "data/{env}.duckdb"}},
        "models": {"default_materialize": default},
    }
    if seeds.section:
        config["seeds"] = seeds.section
    if seeds.checks:
        config["quality"] = {"checks": seeds.checks}
    files: dict[str, str] = {
        "config.yaml": (
            f"# Converted from the dbt project '{dbt_name}' by `interlace init --from-dbt`;\n"
            f"# what was not converted is listed in {REPORT_FILE}.\n"
            + yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100)
        ),
        ".gitignore": GITIGNORE,
    }
    for model in models:
        files[model.path] = model_file(
            {key: value for key, value in model.header.items() if value is not None},
            model.sql,
            model.notes,
        )
    for path, rel in seeds.copies:
        _copy(path, target / rel)
    for item in failed:
        _copy(item.path, target / UNCONVERTED_DIR / item.rel)
        report.unconverted.append(f"{UNCONVERTED_DIR}/{item.rel}")
    files[REPORT_FILE] = report.render()
    for rel, text in files.items():
        path = target / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ProjectError(f"cannot write {path}: {exc.strerror}") from None


def _copy(source: Path, target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    except OSError as exc:
        raise ProjectError(f"cannot copy {source} to {target}: {exc.strerror}") from None


__all__ = ["REPORT_FILE", "convert"]
