"""`interlace promote` and fallback reads in `interlace run` (SPEC §7.3, §7.4)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Folder

MODELS = {
    "models/raw_orders.py": """
        from interlace import model


        @model
        def raw_orders(context):
            return [
                {"id": 1, "customer": "ann", "amount": 50, "built_in": context.env},
                {"id": 2, "customer": "bob", "amount": 150, "built_in": context.env},
                {"id": 3, "customer": "ann", "amount": 100, "built_in": context.env},
            ]
    """,
    "models/orders.sql": "SELECT * FROM raw_orders WHERE amount > 60\n",
    "models/revenue.sql": """
        SELECT customer, sum(amount) AS total, min(built_in) AS built_in
        FROM orders GROUP BY customer
    """,
    "models/big.sql": """
        -- @materialize: ephemeral
        SELECT * FROM orders WHERE amount > 120
    """,
    "models/big_count.sql": "SELECT count(*) AS n FROM big\n",
    "models/orders_view.sql": """
        -- @materialize: view
        SELECT id, built_in FROM orders
    """,
}

SHARED_PROD = """\
name: test_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
  prod:
    type: duckdb
    path: data/prod.duckdb
    shared: true
    access: read
"""


def built_in_dev(project: Folder) -> None:
    project.write(MODELS)
    result = project.interlace("run", "--env", "dev")
    assert result.code == 0, result


def test_promote_copies_the_selected_tables_to_the_target_environment(project: Folder) -> None:
    built_in_dev(project)

    result = project.interlace("promote", "--from", "dev", "--to", "prod", "orders", "revenue")

    assert result.code == 0, result
    assert "✓ copy  main.orders " in result.stdout
    assert "(2 rows)" in result.stdout
    assert "promoted 2 table(s) and 0 view(s) from dev to prod" in result.stdout
    assert project.sql("SELECT id, built_in FROM main.orders ORDER BY id", env="prod") == [
        (2, "dev"),
        (3, "dev"),
    ]
    assert project.sql("SELECT * FROM main.revenue ORDER BY customer", env="prod") == [
        ("ann", 100, "dev"),
        ("bob", 150, "dev"),
    ]
    assert project.relations("prod") == {"main.orders": "table", "main.revenue": "table"}


def test_promote_all_recreates_views_and_skips_ephemeral_models(project: Folder) -> None:
    built_in_dev(project)

    result = project.interlace("promote", "--from", "dev", "--to", "prod", "--all")

    assert result.code == 0, result
    assert "- skip  main.big " in result.stdout
    assert "ephemeral: it has no table" in result.stdout
    assert "✓ view  main.orders_view  recreated from its definition in prod" in result.stdout
    assert "promoted 4 table(s) and 1 view(s) from dev to prod" in result.stdout
    assert project.relations("prod") == {
        "main.raw_orders": "table",
        "main.orders": "table",
        "main.revenue": "table",
        "main.big_count": "table",
        "main.orders_view": "view",
    }
    assert project.sql("SELECT * FROM main.orders_view ORDER BY id", env="prod") == [
        (2, "dev"),
        (3, "dev"),
    ]
    assert project.sql("SELECT n FROM main.big_count", env="prod") == [(1,)]


def test_promote_sources_only_copies_root_models(project: Folder) -> None:
    built_in_dev(project)

    result = project.interlace("promote", "--from", "dev", "--to", "prod", "--sources-only")

    assert result.code == 0, result
    assert project.relations("prod") == {"main.raw_orders": "table"}
    assert project.count("main.raw_orders", env="prod") == 3


def test_promote_dry_run_prints_the_plan_and_creates_nothing(project: Folder) -> None:
    built_in_dev(project)

    result = project.interlace("promote", "--from", "dev", "--to", "prod", "+revenue", "--dry-run")

    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert lines[0] == "would promote 3 table(s) and 0 view(s) from dev to prod:"
    assert lines[1].split() == [
        "copy",
        "main.raw_orders",
        "'default'",
        "(data/dev.duckdb)",
        "->",
        "'default'",
        "(data/prod.duckdb)",
    ]
    assert [line.split()[:2] for line in lines[2:]] == [
        ["copy", "main.orders"],
        ["copy", "main.revenue"],
    ]
    assert not project.db("prod").exists()


def test_target_environment_run_after_promote_knows_the_tables(project: Folder) -> None:
    built_in_dev(project)
    promoted = project.interlace("promote", "--from", "dev", "--to", "prod", "orders", "revenue")
    assert promoted.code == 0, promoted

    result = project.interlace("run", "--env", "prod", "revenue")

    assert result.code == 0, result
    assert "unchanged since the last run" in result.stdout
    assert project.sql("SELECT built_in FROM main.revenue", env="prod") == [("dev",), ("dev",)]


def test_promote_refusals_exit_1_with_a_message(project: Folder) -> None:
    built_in_dev(project)

    same = project.interlace("promote", "--from", "dev", "--to", "dev", "orders")
    unknown = project.interlace("promote", "--from", "dev", "--to", "prdo", "orders")
    nothing = project.interlace("promote", "--from", "dev", "--to", "prod")
    missing_option = project.interlace("promote", "--to", "prod", "orders")

    assert same.code == 1, same
    assert "error: --from and --to are both 'dev'" in same.stderr
    assert unknown.code == 1, unknown
    assert "error: unknown environment 'prdo'" in unknown.stderr
    assert "did you mean 'prod'?" in unknown.stderr
    assert nothing.code == 1, nothing
    assert "name the models to promote, or pass --all or --sources-only" in nothing.stderr
    assert missing_option.code == 2, missing_option
    assert "--from" in missing_option.stderr
    for result in (same, unknown, nothing, missing_option):
        assert not result.has_traceback, result
    assert not project.db("prod").exists()
    assert not project.db("prdo").exists()


def test_promote_refuses_a_missing_source_table(project: Folder) -> None:
    project.write(MODELS)
    built = project.interlace("run", "raw_orders")
    assert built.code == 0, built

    result = project.interlace("promote", "--from", "dev", "--to", "prod", "orders")

    assert result.code == 1, result
    assert (
        "error: 1 table(s) to promote do not exist in env 'dev': main.orders "
        "('default' (data/dev.duckdb))" in result.stderr
    )
    assert "build them there first: interlace run --env dev orders" in result.stderr
    assert not project.db("prod").exists()


def test_promote_refuses_a_read_only_target_connection(project: Folder) -> None:
    built_in_dev(project)
    project.write({"config.prod.yaml": "connections:\n  default:\n    access: read\n"})

    result = project.interlace("promote", "--from", "dev", "--to", "prod", "orders")

    assert result.code == 1, result
    assert "error: connection 'default' is read-only in env 'prod' (access: read)" in result.stderr
    assert not result.has_traceback
    assert not project.db("prod").exists()


def test_dev_reads_from_shared_prod_then_promotes_its_model(project: Folder) -> None:
    project.write({**MODELS, "config.yaml": SHARED_PROD})
    in_prod = project.interlace("run", "--env", "prod")
    assert in_prod.code == 0, in_prod

    in_dev = project.interlace("run", "--env", "dev", "revenue")

    assert in_dev.code == 0, in_dev
    revenue_line = next(line for line in in_dev.stdout.splitlines() if "revenue" in line)
    assert "read from fallback 'prod': orders" in revenue_line
    assert project.relations("dev") == {"main.revenue": "table"}
    assert project.sql("SELECT * FROM main.revenue ORDER BY customer") == [
        ("ann", 100, "prod"),
        ("bob", 150, "prod"),
    ]

    promoted = project.interlace("promote", "--from", "dev", "--to", "prod", "revenue")

    assert promoted.code == 0, promoted
    assert project.sql("SELECT * FROM main.revenue ORDER BY customer", env="prod") == [
        ("ann", 100, "prod"),
        ("bob", 150, "prod"),
    ]


def test_dev_run_fails_clearly_when_no_environment_built_the_upstream(project: Folder) -> None:
    project.write({**MODELS, "config.yaml": SHARED_PROD})
    only_raw = project.interlace("run", "--env", "prod", "raw_orders")
    assert only_raw.code == 0, only_raw

    result = project.interlace("run", "--env", "dev", "revenue")

    assert result.code == 1, result
    assert (
        "upstream 'orders' is not built in env 'dev' (no main.orders on connection 'default'), "
        "and fallback connection 'prod' does not have it either" in result.output
    )
    assert not result.has_traceback


# ---------------------------------------------------------------------------- docs

DOC = Path(__file__).resolve().parents[3] / "docs" / "environments.md"


def doc_files() -> list[tuple[str, str]]:
    """``(path, text)`` of every code block in docs/environments.md that names its file."""
    blocks = re.findall(r"```(?:yaml|python|sql)\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    out = []
    for block in blocks:
        first, _, rest = block.partition("\n")
        match = re.fullmatch(r"(?:#|--) ((?:models/)?[\w.]+\.(?:yaml|py|sql))", first)
        if match:
            out.append((match.group(1), block if first.startswith("#") else rest))
    return out


def test_the_environments_doc_example_works_as_written(project: Folder) -> None:
    files = doc_files()
    assert [path for path, _ in files] == [
        "config.yaml",
        "models/raw_orders.py",
        "models/orders.sql",
        "models/revenue.sql",
        "models/revenue.sql",
    ]
    project.write(dict(files[:4]))

    in_prod = project.interlace("run", "--env", "prod")
    in_dev = project.interlace("run", "revenue")

    assert in_prod.code == 0, in_prod
    assert in_dev.code == 0, in_dev
    assert "✓ revenue  2 rows  read from fallback 'prod': orders" in in_dev.stdout
    assert project.sql("SELECT * FROM main.revenue ORDER BY customer") == [
        ("ann", 150, "prod"),
        ("bob", 150, "prod"),
    ]

    project.write(dict(files[4:]))
    changed = project.interlace("run", "revenue")
    dry_run = project.interlace("promote", "--from", "dev", "--to", "prod", "revenue", "--dry-run")
    promoted = project.interlace("promote", "--from", "dev", "--to", "prod", "revenue")
    after = project.interlace("run", "--env", "prod")

    assert changed.code == 0, changed
    doc = DOC.read_text(encoding="utf-8")
    assert dry_run.code == 0, dry_run
    assert dry_run.stdout in doc
    assert promoted.code == 0, promoted
    assert promoted.stdout.splitlines()[0] in doc
    assert project.sql("SELECT * FROM main.revenue ORDER BY customer", env="prod") == [
        ("ann", 150, 2, "prod"),
        ("bob", 150, 1, "prod"),
    ]
    assert after.code == 0, after
    assert "- orders  skipped: unchanged since the last run" in after.stdout
    assert "- revenue  skipped: unchanged since the last run" in after.stdout
