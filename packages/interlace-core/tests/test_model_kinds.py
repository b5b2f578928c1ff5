"""Model kinds: an installed distribution adds a kind of node (``interlace.kinds``) through its
``interlace.hooks`` entry point, and projects use it with no edit to core."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest
from interlace.errors import ExtensionError, InterlaceError
from interlace.fingerprint import fingerprints
from interlace.hooks import installed_hooks

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir
    from interlace.results import RunResult

# A distribution that adds two kinds: ``source_table``, a table an outside loader fills (a
# source: runs never build it), declared by a ``SourceTable`` value in a model file or by a
# ``*.source.yaml`` file; and ``constant``, a node the executor builds from declared rows.
EXTENSION = '''
import sys
from dataclasses import dataclass, field

import yaml

from interlace.kinds import Declaration, ModelKind


@dataclass(frozen=True)
class SourceTable:
    """A table an outside loader fills."""

    schema: str = "raw"
    columns: tuple[str, ...] = ()
    versioned: bool = True
    file: str | None = field(default=None, repr=False, compare=False)
    line: int | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        caller = sys._getframe(2)  # the model file that made it (past the dataclass __init__)
        object.__setattr__(self, "file", caller.f_code.co_filename)
        object.__setattr__(self, "line", caller.f_lineno)


@dataclass(frozen=True)
class Constant:
    """A node built from rows written in the model file."""

    rows: tuple[dict, ...]


class SourceTableKind(ModelKind):
    name = "source_table"
    suffixes = (".source.yaml",)

    def declaration(self, name, value):
        if not isinstance(value, SourceTable):
            return None
        return Declaration(
            name=name,
            options={"schema": value.schema, "tags": ["raw"]},
            definition=value,
            file=value.file,
            line=value.line,
        )

    def load_file(self, path):
        data = yaml.safe_load(path.read_text())
        table = SourceTable(schema=data.get("schema", "raw"), columns=tuple(data["columns"]))
        return [Declaration(name=data["name"], options={"schema": table.schema},
                            definition=table, line=1)]

    def fingerprint(self, spec):
        return repr(spec.definition)

    def data_version(self, spec, context):
        if not spec.definition.versioned:
            return None
        if context.session.relation_kind(spec.schema, spec.name) is None:
            return 0
        row = context.session.fetch_one(f"select count(*) from {spec.qualified_name}")
        return int(row[0])


class ConstantKind(ModelKind):
    name = "constant"

    def declaration(self, name, value):
        if not isinstance(value, Constant):
            return None
        rows = [dict(row) for row in value.rows]
        return Declaration(name=name, definition=value, build=lambda: rows)

    def fingerprint(self, spec):
        return repr(spec.definition.rows)


def model_kinds():
    return [SourceTableKind(), ConstantKind()]
'''

ORDERS = """
from acme_kinds import SourceTable

orders = SourceTable(columns=("id", "amount"))
"""

TOTALS = """
-- @description: what the loader brought in so far
SELECT count(*) AS n, sum(amount) AS total FROM orders
"""

Install = Callable[..., None]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """``install(source)``: a fake installed distribution, a module and its dist-info with one
    ``interlace.hooks`` entry point, on ``sys.path`` for this test only."""
    modules: list[str] = []

    def install_distribution(source: str, module: str = "acme_kinds") -> None:
        site = tmp_path / f"site_{module}"
        site.mkdir()
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{module.replace('_', '-')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[interlace.hooks]\n{module} = {module}\n")
        monkeypatch.syspath_prepend(str(site))
        modules.append(module)
        installed_hooks.cache_clear()

    yield install_distribution
    for module in modules:
        sys.modules.pop(module, None)
    installed_hooks.cache_clear()


def load_orders(project: ProjectDir, *rows: tuple[int, int]) -> None:
    """What the outside loader does: append rows to the source's table."""
    path = project.db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        con.execute("CREATE TABLE IF NOT EXISTS raw.orders (id INTEGER, amount INTEGER)")
        con.executemany("INSERT INTO raw.orders VALUES (?, ?)", list(rows))
    finally:
        con.close()


def shop(make_project: MakeProject, install: Install) -> ProjectDir:
    install(EXTENSION)
    return make_project({"models/orders.py": ORDERS, "models/totals.sql": TOTALS})


def statuses(result: RunResult) -> dict[str, str]:
    return {name: r.status for name, r in result.models.items()}


def test_a_declaration_in_a_model_file_becomes_a_node_of_its_kind(
    make_project: MakeProject, install: Install
) -> None:
    project = shop(make_project, install)
    loaded = project.load()
    orders = loaded.models["orders"]
    assert (orders.kind, orders.file, orders.line) == ("source_table", "models/orders.py", 3)
    assert (orders.schema, orders.materialize, orders.strategy) == ("raw", "table", "append")
    assert orders.is_source and orders.tags == ("raw",)
    assert loaded.models["totals"].depends_on == ("orders",)
    assert loaded.resolve("raw.orders") is orders
    # selection treats it like any model
    assert loaded.select(["+totals"]) == ["orders", "totals"]
    assert loaded.select(["tag:raw+"]) == ["orders", "totals"]
    assert loaded.select(["totals"]) == ["totals"]


def test_a_reader_runs_after_the_source_and_reads_its_rows_while_the_source_is_never_built(
    make_project: MakeProject, install: Install
) -> None:
    project = shop(make_project, install)
    load_orders(project, (1, 10), (2, 5))
    result = project.run(["+totals"], force=True)
    assert statuses(result) == {"orders": "skipped", "totals": "success"}, result
    reason = result.models["orders"].skip_reason
    assert reason == "source_table: a source, filled outside runs"
    assert project.rows("totals") == [{"n": 2, "total": 15}]
    assert project.rows("raw.orders", order_by="id") == [
        {"id": 1, "amount": 10},
        {"id": 2, "amount": 5},
    ]  # untouched: the run never wrote the source's table


def test_a_source_whose_table_is_missing_says_so_and_fails_only_its_readers(
    make_project: MakeProject, install: Install
) -> None:
    project = shop(make_project, install)
    project.write({"models/other.sql": "SELECT 1 AS one"})
    result = project.run()
    assert statuses(result) == {"orders": "skipped", "other": "success", "totals": "failed"}
    assert result.models["orders"].skip_reason == (
        "source_table: a source, filled outside runs; its table does not exist yet"
    )


def test_new_data_in_the_source_reruns_its_readers_and_no_new_data_skips_them(
    make_project: MakeProject, install: Install
) -> None:
    project = shop(make_project, install)
    load_orders(project, (1, 10))
    assert statuses(project.run_ok()) == {"orders": "skipped", "totals": "success"}
    again = project.run_ok()
    assert again.models["totals"].status == "skipped"
    assert again.models["totals"].skip_reason == "unchanged since the last run"

    load_orders(project, (2, 5))  # the source's data version (its row count) moves
    assert project.run_ok().models["totals"].status == "success"
    assert project.rows("totals") == [{"n": 2, "total": 15}]
    assert project.run_ok().models["totals"].status == "skipped"
    # a reader selected without its source still sees the new data
    load_orders(project, (3, 1))
    assert statuses(project.run_ok(["totals"])) == {"totals": "success"}
    assert project.rows("totals") == [{"n": 3, "total": 16}]


def test_editing_the_declaration_changes_its_fingerprint_and_reruns_its_readers(
    make_project: MakeProject, install: Install
) -> None:
    project = shop(make_project, install)
    load_orders(project, (1, 10))
    project.run_ok()
    before = fingerprints(project.load())
    # a comment does not change the declaration
    project.write({"models/orders.py": "# the shop's orders\n" + textwrap.dedent(ORDERS)})
    assert fingerprints(project.load()) == before
    assert project.run_ok().models["totals"].status == "skipped"

    project.write({"models/orders.py": ORDERS.replace('"amount"', '"amount", "note"')})
    after = fingerprints(project.load())
    assert after["orders"] != before["orders"] and after["totals"] != before["totals"]
    result = project.run_ok()
    assert result.models["totals"].status == "success"


def test_readers_of_a_source_whose_kind_cannot_tell_new_data_run_every_time(
    make_project: MakeProject, install: Install
) -> None:
    project = shop(make_project, install)
    project.write({"models/orders.py": ORDERS.replace("))", "), versioned=False)")})
    load_orders(project, (1, 10))
    project.run_ok()
    assert project.run_ok().models["totals"].status == "success"


def test_a_node_kind_with_build_is_built_like_a_python_model(
    make_project: MakeProject, install: Install
) -> None:
    install(EXTENSION)
    project = make_project(
        {
            "models/prices.py": """
                from acme_kinds import Constant

                prices = Constant(rows=({"sku": "a", "price": 3}, {"sku": "b", "price": 4}))
            """,
            "models/cheapest.sql": "SELECT min(price) AS price FROM prices",
        }
    )
    first = project.run_ok()
    assert statuses(first) == {"prices": "success", "cheapest": "success"}
    assert project.load().models["prices"].kind == "constant"
    assert project.rows("prices") == [{"sku": "a", "price": 3}, {"sku": "b", "price": 4}]
    assert project.rows("cheapest") == [{"price": 3}]
    # like a Python model without upstreams, it runs every time; same rows: readers skip
    assert statuses(project.run_ok()) == {"prices": "success", "cheapest": "skipped"}
    project.write(
        {
            "models/prices.py": """
                from acme_kinds import Constant

                prices = Constant(rows=({"sku": "c", "price": 2},))
            """
        }
    )
    assert statuses(project.run_ok()) == {"prices": "success", "cheapest": "success"}
    assert project.rows("cheapest") == [{"price": 2}]


def test_a_kind_reads_files_with_its_suffix(make_project: MakeProject, install: Install) -> None:
    install(EXTENSION)
    project = make_project(
        {
            "models/raw/orders.source.yaml": "name: orders\ncolumns: [id, amount]\n",
            "models/totals.sql": TOTALS,
        }
    )
    orders = project.load().models["orders"]
    assert (orders.kind, orders.file, orders.line) == (
        "source_table",
        "models/raw/orders.source.yaml",
        1,
    )
    load_orders(project, (1, 4))
    assert statuses(project.run_ok()) == {"orders": "skipped", "totals": "success"}
    assert project.rows("totals") == [{"n": 1, "total": 4}]


def test_a_value_imported_from_another_model_file_is_declared_once(
    make_project: MakeProject, install: Install
) -> None:
    project = shop(make_project, install)
    project.write({"models/again.py": "from _interlace_models.orders import orders\n"})
    assert sorted(project.load().models) == ["orders", "totals"]


def test_a_source_declaration_cannot_choose_how_it_is_materialized(
    make_project: MakeProject, install: Install
) -> None:
    install(
        EXTENSION.replace('"tags": ["raw"]', '"tags": ["raw"], "materialize": "view"'),
    )
    project = make_project({"models/orders.py": ORDERS})
    with pytest.raises(InterlaceError) as caught:
        project.load()
    message = str(caught.value)
    assert message.startswith("models/orders.py:3: model 'orders': materialize 'view'")
    assert "a source_table is a source" in message


BROKEN_DECLARATION = """
from interlace.kinds import ModelKind

class Broken(ModelKind):
    name = "broken"

    def declaration(self, name, value):
        return {}["missing"]

    def fingerprint(self, spec):
        return ""

def model_kinds():
    return [Broken()]
"""


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            BROKEN_DECLARATION,
            "models/orders.py: model kind 'broken' of the Interlace extension 'acme_kinds' "
            "(acme_kinds) failed in declaration() of 'orders': KeyError: 'missing'",
        ),
        (
            BROKEN_DECLARATION.replace("[Broken()]", "[Broken]"),
            "the Interlace extension 'acme_kinds' (acme_kinds) returned the class Broken from "
            "model_kinds(), not an interlace.kinds.ModelKind instance",
        ),
        (
            BROKEN_DECLARATION.replace('name = "broken"', 'name = "sql"'),
            "model kind 'sql' of the Interlace extension 'acme_kinds' (acme_kinds) reuses the "
            "built-in kind name 'sql'",
        ),
        (
            BROKEN_DECLARATION.replace(
                "    def fingerprint(self, spec):\n", "    def other(self):\n"
            ),
            "the Interlace extension 'acme_kinds' (acme_kinds) failed in model_kinds(): "
            "TypeError: Can't instantiate abstract class Broken",
        ),
    ],
    ids=["declaration-raises", "returns-a-class", "reuses-a-builtin-name", "abstract-method"],
)
def test_a_broken_kind_is_a_clear_error_naming_the_extension(
    make_project: MakeProject, install: Install, source: str, expected: str
) -> None:
    install(source)
    project = make_project({"models/orders.py": "orders = 1\n", "models/b.sql": "SELECT 1"})
    with pytest.raises(ExtensionError) as caught:
        project.load()
    assert str(caught.value).startswith(expected), caught.value
    assert "hint:" in str(caught.value)


def test_an_extension_that_fails_to_import_only_shows_in_load_errors(
    make_project: MakeProject, install: Install
) -> None:
    install("import no_such_module\n", module="broken_hooks")
    project = make_project({"models/a.sql": "SELECT 1 AS one"})
    project.run_ok()  # a project that needs none of its kinds loads and runs
    # a model reading a node of a kind the broken extension may have added
    project.write(
        {
            "models/b.py": """
                from interlace import model

                @model
                def b(events):
                    return events
            """
        }
    )
    with pytest.raises(InterlaceError) as caught:
        project.load()
    assert "parameter 'events' is not a model" in str(caught.value)
    assert "the Interlace extension 'broken_hooks' (broken_hooks) failed to load " in str(
        caught.value
    )
    assert "No module named 'no_such_module'" in str(caught.value)


def test_projects_without_extension_kinds_have_none(make_project: MakeProject) -> None:
    project = make_project({"models/a.sql": "SELECT 1 AS one"})
    loaded = project.load()
    assert not any(spec.is_source for spec in loaded.models.values())
    assert "source_table" not in loaded.kinds
