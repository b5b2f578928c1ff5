"""The dbt converter on small projects: what each dbt construct becomes, and how what does not
convert is reported (file, line, what to do)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pytest
from interlace.api import run_sync
from interlace.project import load_project
from interlace.sql_models import split_sql_file
from interlace_cli.from_dbt import convert
from interlace_cli.from_dbt.headers import model_file

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from interlace.project import Project
    from interlace_cli.from_dbt.report import Report

PROJECT = "name: shop\nconfig-version: 2\nprofile: shop\n"


def _convert(tmp_path: Path, files: Mapping[str, str]) -> tuple[Report, Path]:
    dbt = tmp_path / "dbt"
    for rel, text in {"dbt_project.yml": PROJECT, **files}.items():
        path = dbt / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    target = tmp_path / "converted"
    return convert(dbt, target), target


def _issues(report: Report) -> list[tuple[str, int | None, str]]:
    return [(i.file, i.line, i.what) for i in report.issues]


def _project(target: Path) -> Project:
    return load_project(target)


def test_a_model_that_cannot_render_is_reported_with_its_line_and_kept_aside(
    tmp_path: Path,
) -> None:
    report, target = _convert(
        tmp_path,
        {
            "models/a.sql": "select 1 as id",
            "models/uses_package.sql": """
                -- columns of a
                select
                  {{ dbt_utils.star(ref('a')) }}
                from {{ ref('a') }}
            """,
            "models/needs_var.sql": "select *\nfrom a\nwhere region = '{{ var('region') }}'",
        },
    )
    issues = _issues(report)
    assert (
        "models/uses_package.sql",
        3,
        "model 'uses_package' not converted: 'dbt_utils' is undefined: `dbt_utils` is not a dbt "
        "built-in this converter renders (a package's macro, or a function needing a database)",
    ) in issues
    assert (
        "models/needs_var.sql",
        3,
        "model 'needs_var' not converted: var('region') has no value in dbt_project.yml and no "
        "default",
    ) in issues
    assert (target / "dbt_unconverted/models/uses_package.sql").is_file()
    assert sorted(report.unconverted) == [
        "dbt_unconverted/models/needs_var.sql",
        "dbt_unconverted/models/uses_package.sql",
    ]
    assert set(_project(target).models) == {"a"}
    assert run_sync(target).success
    text = (target / "CONVERSION.md").read_text(encoding="utf-8")
    assert "`dbt_unconverted/models/uses_package.sql`" in text
    assert "- `models/uses_package.sql:3`: model 'uses_package' not converted" in text


def test_schema_tests_become_checks_with_severity_where_and_name(tmp_path: Path) -> None:
    report, target = _convert(
        tmp_path,
        {
            "models/orders.sql": (
                "select * from (values (1, 1, 'new', 5), (2, 1, 'paid', 7)) "
                "t(id, line, status, amount)"
            ),
            "models/schema.yml": """
                version: 2
                models:
                  - name: orders
                    data_tests:
                      - dbt_utils.unique_combination_of_columns:
                          combination_of_columns: [id, line]
                    columns:
                      - name: id
                        data_tests:
                          - unique:
                              config:
                                where: "id > 0"
                          - not_null:
                              severity: warn
                      - name: status
                        tests:
                          - accepted_values:
                              name: known_status
                              arguments:
                                values: [new, paid]
                      - name: amount
                        tests:
                          - dbt_utils.accepted_range:
                              min_value: 0
                              inclusive: true
                          - dbt_utils.expression_is_true:
                              expression: "< 100"
                          - not_null:
                              error_if: ">10"
            """,
        },
    )
    checks = {c.label: c for c in _project(target).checks["orders"]}
    assert set(checks) == {
        "unique(id, line)",
        "unique(id) where id > 0",
        "not_null(id)",
        "known_status",
        "range(0 <= amount)",
        "expression(amount < 100)",
    }
    assert checks["not_null(id)"].severity == "warn"
    assert (
        "models/schema.yml",
        28,  # the not_null test with error_if
        "model 'orders': test not_null: `error_if` is not converted (an Interlace check fails "
        "on any failing row)",
    ) in _issues(report)
    result = run_sync(target)
    assert result.success, result.models
    assert report.counts["checks"] == 6


def test_config_in_the_model_file_becomes_header_lines(tmp_path: Path) -> None:
    report, target = _convert(
        tmp_path,
        {
            "models/marts/revenue.sql": """
                {{ config(materialized='view', schema='marts', tags=['finance'],
                          alias='revenue_v2') }}
                select 1 as day, 10 as revenue
            """,
            "models/orders.sql": """
                {{ config(materialized='incremental', unique_key='id') }}
                select 1 as id, current_date as day
                {% if is_incremental() %}
                where day > (select max(day) from {{ this }})
                {% endif %}
            """,
        },
    )
    project = _project(target)
    revenue = project.models["revenue"]
    assert (revenue.materialize, revenue.schema, revenue.tags) == ("view", "marts", ("finance",))
    orders = project.models["orders"]
    assert (orders.materialize, orders.strategy, orders.options.primary_key) == (
        "table",
        "merge_by_key",
        ("id",),
    )
    issues = _issues(report)
    assert (
        "models/marts/revenue.sql",
        1,
        "model 'revenue': config `alias` is not converted",
    ) in issues
    assert any(
        file == "models/orders.sql" and "is_incremental() filter was dropped" in what
        for file, _line, what in issues
    )
    header = (target / "models/marts/revenue.sql").read_text(encoding="utf-8")
    # dbt builds views unless told otherwise: so does the converted project
    assert "default_materialize: view" in (target / "config.yaml").read_text(encoding="utf-8")
    assert header.startswith("-- @schema: marts\n-- @tags: [finance]\nselect 1 as day")
    assert run_sync(target).success


def test_yaml_snapshots_map_hard_deletes_to_delete_modes(tmp_path: Path) -> None:
    snapshots = "\n".join(
        f"""
          - name: {name}
            relation: ref('people')
            config:
              unique_key: id
              strategy: check
              check_cols: all
              {setting}"""
        for name, setting in (
            ("kept", "hard_deletes: ignore"),
            ("closed", "hard_deletes: invalidate"),
            ("marked", "hard_deletes: new_record"),
            ("legacy", "invalidate_hard_deletes: true"),
        )
    )
    report, target = _convert(
        tmp_path,
        {
            "models/people.sql": "select 1 as id, 'Ann' as name",
            "snapshots/snapshots.yml": "version: 2\nsnapshots:" + textwrap.dedent(snapshots),
        },
    )
    models = _project(target).models
    assert {n: models[n].options.delete_mode for n in ("kept", "closed", "marked", "legacy")} == {
        "kept": None,
        "closed": "soft",
        "marked": "soft_mark",
        "legacy": "soft",
    }
    assert models["marked"].options.scd2.deleted_column == "dbt_is_deleted"
    assert models["closed"].depends_on == ("people",)
    assert report.counts["snapshots"] == 4
    assert run_sync(target).success


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        (
            "unique_key=\"id || '-' || name\", strategy='check', check_cols='all'",
            "unique_key \"id || '-' || name\" is an expression",
        ),
        ("unique_key='id', strategy='timestamp'", "the timestamp strategy needs updated_at"),
        ("strategy='check', check_cols='all'", "it has no unique_key"),
    ],
)
def test_snapshots_that_cannot_convert_say_why(tmp_path: Path, config: str, reason: str) -> None:
    report, target = _convert(
        tmp_path,
        {
            "models/people.sql": "select 1 as id, 'Ann' as name",
            "snapshots/people_snapshot.sql": (
                f"{{% snapshot people_snapshot %}}\n{{{{ config({config}) }}}}\n"
                "select * from {{ ref('people') }}\n{% endsnapshot %}\n"
            ),
        },
    )
    found = [
        (file, line)
        for file, line, what in _issues(report)
        if what.startswith(f"snapshot 'people_snapshot' not converted: {reason}")
    ]
    assert found == [("snapshots/people_snapshot.sql", 2)], _issues(report)
    assert (target / "dbt_unconverted/snapshots/people_snapshot.sql").is_file()


def test_written_headers_read_back_as_the_same_values() -> None:
    values = {
        "description": "Orders.\n\n| status | meaning |\n|---|---|\n  - indented: yes # kept",
        "summary": "a long line " * 12 + "with: colon # and hash",
        "odd": "@not a header",
        "tags": ["on", "off", "2024-01-01"],
        "quality_checks": [
            {"accepted_values": {"column": "s", "values": ["yes", "no", 1]}},
            {"expression": "a: b # c", "severity": "warn"},
        ],
    }
    (block,) = split_sql_file(model_file(values, "select 1 as id"), "models/m.sql")
    assert block.options == values
