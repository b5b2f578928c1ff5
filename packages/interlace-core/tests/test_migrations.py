"""Migrations (SPEC §14.1): versioned SQL files run in order, each in its own transaction,
recorded per environment; a failure stops the sequence; down files roll back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from interlace.api import open_state
from interlace.migrations import MigrationError, Migrator, migrate

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir

MIGRATIONS = {
    "migrations/001_create_customers.up.sql": """
        create schema app;
        create table app.customers (id integer primary key, name varchar);
    """,
    "migrations/001_create_customers.down.sql": "drop table app.customers; drop schema app;",
    "migrations/002_seed_customers.up.sql": """
        insert into app.customers values (1, 'Ann'), (2, 'Bob');
    """,
    "migrations/002_seed_customers.down.sql": "delete from app.customers;",
    "migrations/003_add_email.sql": "alter table app.customers add column email varchar;",
    "migrations/003_add_email.down.sql": "alter table app.customers drop column email;",
}


def columns(project: ProjectDir) -> list[str]:
    return [
        r[0]
        for r in project.sql(
            "select column_name from information_schema.columns "
            "where table_schema = 'app' and table_name = 'customers' order by ordinal_position"
        )
    ]


def tables(project: ProjectDir) -> set[str]:
    rows = project.sql("select table_schema || '.' || table_name from information_schema.tables")
    return {r[0] for r in rows}


def applied(project: ProjectDir, env: str = "dev") -> list[tuple[int, str]]:
    store = open_state(project.load(env))
    try:
        return [(m.version, m.name) for m in store.applied_migrations(env)]
    finally:
        store.close()


def test_migrations_apply_in_order_and_are_recorded(make_project: MakeProject) -> None:
    project = make_project(MIGRATIONS)
    outcome = migrate(project.load())
    assert outcome.success, outcome.error
    assert [(s.migration.version, s.direction) for s, _ in outcome.done] == [
        (1, "up"),
        (2, "up"),
        (3, "up"),
    ]
    assert project.sql("select * from app.customers order by id") == [
        (1, "Ann", None),
        (2, "Bob", None),
    ]
    assert applied(project) == [(1, "create_customers"), (2, "seed_customers"), (3, "add_email")]


def test_running_again_applies_nothing(make_project: MakeProject) -> None:
    project = make_project(MIGRATIONS)
    migrate(project.load())
    again = migrate(project.load())
    assert again.success and again.done == []
    assert project.count("app.customers") == 2


def test_a_new_migration_file_is_applied_on_the_next_run(make_project: MakeProject) -> None:
    project = make_project(MIGRATIONS)
    migrate(project.load())
    project.write(
        {"migrations/004_more.up.sql": "insert into app.customers values (3, 'Cy', null);"}
    )
    outcome = migrate(project.load())
    assert [s.migration.label for s, _ in outcome.done] == ["004_more"]
    assert project.count("app.customers") == 3


def test_a_failing_migration_stops_the_sequence_and_is_rolled_back(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            **MIGRATIONS,
            # the first statement works, the second is a syntax error: neither may remain
            "migrations/003_add_email.sql": """
                alter table app.customers add column email varchar;
                selec 1;
            """,
            "migrations/004_never.up.sql": "create table app.never (id integer);",
        }
    )
    outcome = migrate(project.load())
    assert not outcome.success
    assert [s.migration.version for s, _ in outcome.done] == [1, 2]
    assert outcome.failed is not None and outcome.failed.migration.label == "003_add_email"
    assert "syntax error" in (outcome.error or "")
    assert columns(project) == ["id", "name"]  # as after migration 2
    assert project.count("app.customers") == 2
    assert "app.never" not in tables(project)
    assert applied(project) == [(1, "create_customers"), (2, "seed_customers")]


def test_a_failing_migration_that_errors_at_run_time_leaves_no_rows(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            **{k: v for k, v in MIGRATIONS.items() if k.startswith("migrations/001")},
            "migrations/002_seed_customers.up.sql": """
                insert into app.customers values (1, 'Ann');
                insert into app.customers values (1, 'duplicate key');
            """,
        }
    )
    outcome = migrate(project.load())
    assert [s.migration.version for s, _ in outcome.done] == [1]
    assert "Constraint Error" in (outcome.error or "")
    assert project.count("app.customers") == 0


def test_rollback_runs_the_newest_down_file_and_restores_the_schema(
    make_project: MakeProject,
) -> None:
    project = make_project(MIGRATIONS)
    migrate(project.load())
    outcome = migrate(project.load(), rollback=True)
    assert [(s.migration.version, s.direction) for s, _ in outcome.done] == [(3, "down")]
    assert columns(project) == ["id", "name"]
    assert applied(project) == [(1, "create_customers"), (2, "seed_customers")]
    migrate(project.load(), rollback=True)
    migrate(project.load(), rollback=True)
    assert "app.customers" not in tables(project)
    assert applied(project) == []
    with pytest.raises(MigrationError, match="nothing to roll back"):
        migrate(project.load(), rollback=True)


def test_rollback_without_a_down_file_is_an_error(make_project: MakeProject) -> None:
    files = {k: v for k, v in MIGRATIONS.items() if k != "migrations/003_add_email.down.sql"}
    project = make_project(files)
    migrate(project.load())
    with pytest.raises(MigrationError, match="003_add_email has no down file") as raised:
        migrate(project.load(), rollback=True)
    assert raised.value.file == "migrations/003_add_email.sql"
    assert columns(project) == ["id", "name", "email"]


def test_to_migrates_forward_and_backward(make_project: MakeProject) -> None:
    project = make_project(MIGRATIONS)
    up = migrate(project.load(), to=2)
    assert [s.migration.version for s, _ in up.done] == [1, 2]
    assert columns(project) == ["id", "name"]
    migrate(project.load(), to=3)
    assert columns(project) == ["id", "name", "email"]
    down = migrate(project.load(), to=1)
    assert [(s.migration.version, s.direction) for s, _ in down.done] == [(3, "down"), (2, "down")]
    assert columns(project) == ["id", "name"]
    assert project.count("app.customers") == 0
    assert applied(project) == [(1, "create_customers")]
    migrate(project.load(), to=0)
    assert "app.customers" not in tables(project)


def test_to_a_version_that_does_not_exist_is_an_error(make_project: MakeProject) -> None:
    project = make_project(MIGRATIONS)
    with pytest.raises(MigrationError, match="no migration with version 7") as raised:
        migrate(project.load(), to=7)
    assert "1, 2, 3" in str(raised.value)
    assert applied(project) == []


def test_migrations_are_recorded_per_environment(make_project: MakeProject) -> None:
    project = make_project(MIGRATIONS)
    migrate(project.load("prod"))
    assert applied(project, "prod") == [
        (1, "create_customers"),
        (2, "seed_customers"),
        (3, "add_email"),
    ]
    assert applied(project, "dev") == []
    with Migrator(project.load("dev")) as migrator:
        assert [s.state for s in migrator.status()] == ["pending"] * 3


def test_a_changed_applied_file_is_reported(make_project: MakeProject) -> None:
    project = make_project(MIGRATIONS)
    migrate(project.load())
    project.write(
        {"migrations/002_seed_customers.up.sql": "insert into app.customers values (9, 'X');"}
    )
    with Migrator(project.load()) as migrator:
        states = {s.version: s.state for s in migrator.status()}
        warnings = migrator.warnings()
    assert states == {1: "applied", 2: "changed", 3: "applied"}
    assert len(warnings) == 1
    assert "002_seed_customers changed after it was applied" in warnings[0]
    assert project.count("app.customers") == 2  # never re-applied


def test_a_connection_header_runs_the_migration_elsewhere(make_project: MakeProject) -> None:
    config = """\
name: test_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
  audit:
    type: duckdb
    path: data/audit_{env}.duckdb
"""
    project = make_project(
        {
            "migrations/001_audit_log.up.sql": """
                -- @connection: audit
                create table audit_log (logged_at timestamp);
            """
        },
        config=config,
    )
    outcome = migrate(project.load())
    assert outcome.success and outcome.done[0][0].connection == "audit"
    assert (project.root / "data" / "audit_dev.duckdb").is_file()
    assert not (project.root / "data" / "dev.duckdb").exists()


def test_malformed_migration_folders_are_errors_naming_the_file(
    make_project: MakeProject,
) -> None:
    cases = [
        ({"migrations/create_x.sql": "select 1"}, "does not start with a version number"),
        (
            {"migrations/001_a.sql": "select 1", "migrations/001_b.up.sql": "select 1"},
            "two migration files have version 1",
        ),
        ({"migrations/002_x.down.sql": "select 1"}, "down file without an up file"),
        (
            {"migrations/001_a.sql": "-- @connection: nowhere\nselect 1"},
            "@connection names 'nowhere', which is not configured",
        ),
    ]
    for files, message in cases:
        project = make_project(files)
        with pytest.raises(MigrationError, match=message) as raised:
            migrate(project.load())
        assert (raised.value.file or "").startswith("migrations/"), raised.value
