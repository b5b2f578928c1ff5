"""`interlace migrate`, `interlace export` and `interlace test` (SPEC §14, §8.3, §9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from conftest import Folder

QUICKSTART = Path(__file__).resolve().parents[3] / "examples" / "quickstart"

MIGRATIONS = {
    "migrations/001_create_customers.up.sql": """
        create schema app;
        create table app.customers (id integer, name varchar);
    """,
    "migrations/001_create_customers.down.sql": "drop table app.customers; drop schema app;",
    "migrations/002_seed.sql": "insert into app.customers values (1, 'Ann'), (2, 'Bob');",
    "migrations/002_seed.down.sql": "delete from app.customers;",
    "migrations/003_add_email.up.sql": "alter table app.customers add column email varchar;",
    "migrations/003_add_email.down.sql": "alter table app.customers drop column email;",
}


def columns(project: Folder) -> list[str]:
    return [
        r[0]
        for r in project.sql(
            "select column_name from information_schema.columns "
            "where table_name = 'customers' order by ordinal_position"
        )
    ]


# ---------------------------------------------------------------------------- migrate


def test_migrate_applies_pending_migrations_once(project: Folder) -> None:
    project.write(MIGRATIONS)
    first = project.interlace("migrate")
    assert first.code == 0, first
    assert "✓ up   001_create_customers" in first.stdout
    assert "applied 3 migration(s) in env 'dev'" in first.stdout
    assert project.count("app.customers") == 2
    again = project.interlace("migrate")
    assert again.code == 0, again
    assert "nothing to migrate" in again.stdout
    listed = project.interlace("migrate", "--list")
    assert listed.code == 0, listed
    assert [line.split()[:3] for line in listed.stdout.splitlines()[2:]] == [
        ["001", "create_customers", "applied"],
        ["002", "seed", "applied"],
        ["003", "add_email", "applied"],
    ]


def test_migrate_dry_run_prints_the_plan_and_changes_nothing(project: Folder) -> None:
    project.write(MIGRATIONS)
    result = project.interlace("migrate", "--dry-run")
    assert result.code == 0, result
    assert "would run 3 migration(s) in env 'dev'" in result.stdout
    assert "up   002_seed  (migrations/002_seed.sql on 'default')" in result.stdout
    assert not project.db().exists()
    assert "pending" in project.interlace("migrate", "--list").stdout


def test_a_failing_migration_exits_1_after_the_ones_before_it(project: Folder) -> None:
    project.write(
        {
            **MIGRATIONS,
            "migrations/003_add_email.up.sql": """
                alter table app.customers add column email varchar;
                selec 1;
            """,
        }
    )
    result = project.interlace("migrate")
    assert result.code == 1, result
    assert "✓ up   002_seed" in result.stdout
    assert "migration 003_add_email (migrations/003_add_email.up.sql) failed" in result.stderr
    assert "syntax error" in result.stderr
    assert "rolled back" in result.stderr
    assert not result.has_traceback
    assert columns(project) == ["id", "name"]
    listed = project.interlace("migrate", "--list").stdout
    assert [line.split()[:3] for line in listed.splitlines()[2:]][-1] == [
        "003",
        "add_email",
        "pending",
    ]


def test_rollback_and_to_move_between_versions(project: Folder) -> None:
    project.write(MIGRATIONS)
    assert project.interlace("migrate", "--to", "2").code == 0
    assert columns(project) == ["id", "name"]
    assert project.interlace("migrate", "--to", "3").code == 0
    assert columns(project) == ["id", "name", "email"]
    rolled = project.interlace("migrate", "--rollback")
    assert rolled.code == 0, rolled
    assert "✓ down 003_add_email" in rolled.stdout
    assert columns(project) == ["id", "name"]
    back = project.interlace("migrate", "--to", "1")
    assert back.code == 0, back
    assert "rolled back 1 migration(s)" in back.stdout
    assert project.count("app.customers") == 0


def test_migrate_to_a_missing_version_is_an_error(project: Folder) -> None:
    project.write(MIGRATIONS)
    result = project.interlace("migrate", "--to", "9")
    assert result.code == 1, result
    assert "there is no migration with version 9" in result.stderr
    assert "versions in migrations/: 1, 2, 3" in result.stderr
    assert not project.db().exists()


def test_rollback_without_a_down_file_is_an_error(project: Folder) -> None:
    project.write({"migrations/001_only_up.sql": "create table t (id integer);"})
    assert project.interlace("migrate").code == 0
    result = project.interlace("migrate", "--rollback")
    assert result.code == 1, result
    assert "migrations/001_only_up.sql" in result.stderr
    assert "has no down file" in result.stderr


def test_an_edited_applied_migration_prints_a_warning(project: Folder) -> None:
    project.write(MIGRATIONS)
    project.interlace("migrate")
    project.write({"migrations/002_seed.sql": "insert into app.customers values (3, 'Cy');"})
    result = project.interlace("migrate")
    assert result.code == 0, result
    assert "warning: migration 002_seed changed after it was applied" in result.stderr
    assert project.count("app.customers") == 2


# ---------------------------------------------------------------------------- export

ORDERS = {
    "models/orders.py": """
        from interlace import model

        @model(schema="shop", export={"format": "parquet", "path": "exports/{schema}/{name}.parquet"})
        def orders():
            return [{"id": 1, "amount": 2.5}, {"id": 2, "amount": 4.0}]
    """
}


def test_run_writes_the_declared_export(project: Folder) -> None:
    project.write(ORDERS)
    result = project.interlace("run")
    assert result.code == 0, result
    path = project.root / "exports" / "shop" / "orders.parquet"
    with duckdb.connect() as con:
        rows = con.execute(f"select * from read_parquet('{path}') order by id").fetchall()
    assert rows == [(1, 2.5), (2, 4.0)]


def test_export_command_writes_csv_and_json_on_demand(project: Folder) -> None:
    project.write(ORDERS)
    assert project.interlace("run").code == 0
    csv = project.interlace("export", "orders", "--format", "csv", "--to", "out/orders.csv")
    assert csv.code == 0, csv
    assert "exported shop.orders (2 rows) to out/orders.csv" in csv.stdout
    assert (project.root / "out" / "orders.csv").read_text().splitlines() == [
        "id,amount",
        "1,2.5",
        "2,4.0",
    ]
    as_json = project.interlace("export", "shop.orders", "--to", "out/orders.json")
    assert as_json.code == 0, as_json
    lines = (project.root / "out" / "orders.json").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"id": 1, "amount": 2.5},
        {"id": 2, "amount": 4.0},
    ]
    default = project.interlace("export", "orders")
    assert default.code == 0, default
    assert "exports/shop/orders.parquet" in default.stdout


def test_export_command_errors_are_for_people(project: Folder) -> None:
    project.write(ORDERS)
    not_built = project.interlace("export", "orders", "--to", "out.csv")
    assert not_built.code == 1, not_built
    assert "shop.orders does not exist in env 'dev'" in not_built.stderr
    assert project.interlace("run").code == 0
    (project.root / "blocked").write_text("a file, not a folder")
    blocked = project.interlace("export", "orders", "--to", "blocked/orders.csv")
    assert blocked.code == 1, blocked
    assert "cannot write export to" in blocked.stderr
    assert "cannot create folder" in blocked.stderr
    assert not blocked.has_traceback
    unknown = project.interlace("export", "nope")
    assert unknown.code == 1
    assert "nope" in unknown.stderr


# ---------------------------------------------------------------------------- test


def test_interlace_test_runs_the_quickstart_tests(folder: Folder) -> None:
    quickstart = type(folder)(QUICKSTART)  # a Folder on the example project, run in place
    outcome = quickstart.interlace("test", "-q", timeout=600)
    assert outcome.code == 0, outcome
    assert "5 passed" in outcome.stdout


def test_interlace_test_exits_1_when_a_test_fails(project: Folder) -> None:
    project.write(
        {
            "models/numbers.sql": "select 1 as n union all select 2",
            "tests/test_numbers.py": """
                from pathlib import Path

                from interlace.testing import test_model_sync

                MODEL = Path(__file__).parents[1] / "models" / "numbers.sql"


                def test_numbers_has_two_rows():
                    assert test_model_sync(MODEL).row_count == 2


                def test_numbers_has_three_rows():
                    assert test_model_sync(MODEL).row_count == 3


                def test_the_project_runs(run_project):
                    assert run_project().count("numbers") == 2
            """,
        }
    )
    result = project.interlace("test", "-q")
    assert result.code == 1, result
    assert "1 failed, 2 passed" in result.stdout
    selected = project.interlace("test", "tests/test_numbers.py", "--", "-k", "two_rows", "-q")
    assert selected.code == 0, selected
    assert "1 passed" in selected.stdout


def test_interlace_test_without_a_tests_folder_says_where_to_write_them(project: Folder) -> None:
    result = project.interlace("test")
    assert result.code == 1, result
    assert "no tests/ folder" in result.stderr
    assert "tests/test_models.py" in result.stderr
