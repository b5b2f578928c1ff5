"""A Jinja template left in a SQL model (from dbt) says what to write instead."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from interlace.errors import SQLParseError

if TYPE_CHECKING:
    from conftest import MakeProject


def _error(project: object) -> SQLParseError:
    with pytest.raises(SQLParseError) as info:
        project.load()  # type: ignore[attr-defined]
    return info.value


def test_a_leftover_ref_says_templates_are_unsupported_and_names_the_table(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/customers.sql": "select 1 as id",
            "models/orders.sql": "-- @schema: marts\nselect *\nfrom {{ ref('customers') }}\n",
        }
    )
    error = _error(project)
    assert (error.file, error.line, error.model) == ("models/orders.sql", 3, "orders")
    assert "Jinja templates are not supported" in error.message
    assert "{{ ref('customers') }}" in error.message
    assert "write the table name instead: `customers`" in (error.hint or "")


def test_a_leftover_source_names_schema_and_table(make_project: MakeProject) -> None:
    project = make_project({"models/stg.sql": "select * from {{ source('shop', 'orders') }}"})
    assert "`shop.orders`" in (_error(project).hint or "")


def test_a_template_that_would_parse_as_sql_is_still_caught(make_project: MakeProject) -> None:
    # DuckDB reads {{ ... }} as a struct literal: without the check this would run
    project = make_project({"models/m.sql": "select {{ var('start') }} as start_date"})
    assert "Jinja templates are not supported" in _error(project).message


def test_a_loop_suggests_a_python_model_or_a_functions_macro(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/m.sql": (
                "select\n{% for m in ['a', 'b'] %}\n  sum(x) as {{ m }},\n{% endfor %}\n"
                "  1 as one\nfrom t\n"
            )
        }
    )
    error = _error(project)
    assert error.line == 2
    assert "Python model" in (error.hint or "")
    assert "functions/" in (error.hint or "")


def test_braces_inside_strings_and_comments_are_not_templates(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/m.sql": "-- {{ not a template }}\nselect format('{{}}-{}', 1) as s, '{{ x }}' as t"
        }
    )
    project.run_ok()
    assert project.values("m") == [("{}-1", "{{ x }}")]
