"""Seeds: CSV files under ``seeds/`` that become table models.

``seeds/raw_customers.csv`` becomes the model ``raw_customers``: an ordinary SQL model whose
query reads the file with the engine's own CSV reader
(``select * from read_csv('seeds/raw_customers.csv', header = true)``), materialized as a table
with strategy ``replace``. Other models read it by name like any model; checks, selection,
``interlace info``, lineage and the state store treat it like any SQL model.

Its fingerprint covers the file's content hash, so an edited CSV rebuilds the table (and what
reads it) while an unchanged one is skipped ("seed file unchanged"). Options come from the
``seeds:`` section of the config: ``schema``, ``connection`` and ``tags`` for every seed,
``schemas``, ``column_types`` and ``descriptions`` per seed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from interlace.errors import ConfigError, ModelDefinitionError
from interlace.spec import ModelOptions, parse_options
from interlace.sql_cache import ParsedSQL, describe
from interlace.sql_models import parse_query
from interlace.types import to_sql_type

if TYPE_CHECKING:
    from pathlib import Path

    from interlace.config import LoadedConfig

SEEDS_DIR = "seeds"
SEED_DIALECTS = ("duckdb",)


@dataclass(frozen=True)
class SeedFile:
    """One CSV file under ``seeds/`` (a model's ``ModelSpec.definition``)."""

    name: str
    file: str  # relative to the project folder, with forward slashes: "seeds/raw_customers.csv"
    digest: str  # sha256 of the file's bytes


@dataclass(frozen=True)
class Seed:
    """A seed as the project loader adds it: options, SQL and the facts of its SQL."""

    definition: SeedFile
    options: ModelOptions
    sql: str

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def file(self) -> str:
        return self.definition.file

    def facts(self, dialect: str) -> ParsedSQL:
        """Statement facts of the seed's query; the canonical SQL ends with the file's content
        hash, so the model's fingerprint changes when the CSV does."""
        if dialect not in SEED_DIALECTS:
            raise ModelDefinitionError(
                f"the seed is read with DuckDB's CSV reader, but its connection speaks {dialect}",
                file=self.file,
                model=self.name,
                hint="put seeds on a DuckDB connection (`seeds: {connection: NAME}` in the "
                "config), or load the file with a Python model",
            )
        query = parse_query(
            self.sql, file=self.file, line_offset=1, model=self.name, dialect=dialect
        )
        facts = describe(query, dialect)
        return replace(
            facts, canonical=f"{facts.canonical}\n-- seed sha256 {self.definition.digest}"
        )


def is_seed(definition: Any) -> bool:
    """Whether a model's ``definition`` is a seed file."""
    return isinstance(definition, SeedFile)


def find_seeds(root: Path, loaded: LoadedConfig) -> list[Seed]:
    """The seeds of the project at ``root`` (none when it has no ``seeds/`` folder)."""
    folder = root / SEEDS_DIR
    config = loaded.config.seeds
    if not folder.is_dir():
        _check_names(loaded, set())
        return []
    files = sorted(
        path
        for path in folder.rglob("*.csv")
        if not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )
    seeds = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        name = path.stem
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ModelDefinitionError(
                f"cannot read the seed file: {exc.strerror}", file=rel, model=name
            ) from None
        raw: dict[str, Any] = {
            "name": name,
            "materialize": "table",
            "strategy": "replace",
            "tags": list(config.tags),
        }
        schema = config.schemas.get(name, config.schema_)
        if schema is not None:
            raw["schema"] = schema
        if config.connection is not None:
            raw["connection"] = config.connection
        if name in config.descriptions:
            raw["description"] = config.descriptions[name]
        options = parse_options(raw, where=(rel, None), model=name)
        definition = SeedFile(name=name, file=rel, digest=digest)
        seeds.append(Seed(definition, options, seed_sql(rel, config.column_types.get(name, {}))))
    _check_names(loaded, {seed.name for seed in seeds})
    return seeds


def seed_sql(rel: str, column_types: dict[str, str]) -> str:
    """The query that reads a seed file: ``select * from read_csv('seeds/x.csv', ...)``."""
    args: list[exp.Expr] = [
        exp.Literal.string(rel),
        exp.EQ(this=exp.column("header"), expression=exp.true()),
    ]
    if column_types:
        types = exp.Struct(
            expressions=[
                exp.PropertyEQ(
                    this=exp.Literal.string(column),
                    expression=exp.Literal.string(to_sql_type(declared).sql(dialect="duckdb")),
                )
                for column, declared in column_types.items()
            ]
        )
        args.append(exp.EQ(this=exp.column("types"), expression=types))
    reader = exp.Anonymous(this="read_csv", expressions=args)
    return exp.select(exp.Star()).from_(exp.Table(this=reader)).sql(dialect="duckdb", pretty=True)


def _check_names(loaded: LoadedConfig, names: set[str]) -> None:
    """The per-seed sections of ``seeds:`` name seeds that exist."""
    config = loaded.config.seeds
    for section in ("schemas", "column_types", "descriptions"):
        for name in getattr(config, section):
            if name in names:
                continue
            file, line = loaded.locations.where(("seeds", section, name))
            known = ", ".join(sorted(names)) or f"none: no CSV files in {SEEDS_DIR}/"
            raise ConfigError(
                f"seeds.{section} names '{name}', which is no seed ({SEEDS_DIR}/{name}.csv)",
                file=str(file or loaded.files[0]),
                line=line,
                hint=f"seeds of the project: {known}",
            )


__all__ = ["SEEDS_DIR", "Seed", "SeedFile", "find_seeds", "is_seed", "seed_sql"]
