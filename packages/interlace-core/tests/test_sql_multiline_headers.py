"""Header values may span lines: a YAML value continued on the following ``--`` lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from interlace.errors import ModelDefinitionError
from interlace.sql_models import split_sql_file

if TYPE_CHECKING:
    pass


def test_a_block_list_under_an_empty_header_value_continues_on_indented_lines() -> None:
    (block,) = split_sql_file(
        "-- @name: orders\n"
        "-- @quality_checks:\n"
        "--   - {not_null: id}\n"
        "--   - unique: id\n"
        "--   - relationships:\n"
        "--       column: customer_id\n"
        "--       to: customers\n"
        "-- @tags: [sales]\n"
        "-- an ordinary comment\n"
        "select 1 as id\n",
        "models/orders.sql",
    )
    assert block.options["quality_checks"] == [
        {"not_null": "id"},
        {"unique": "id"},
        {"relationships": {"column": "customer_id", "to": "customers"}},
    ]
    assert block.options["tags"] == ["sales"]
    assert block.option_lines == {"name": 1, "quality_checks": 2, "tags": 8}
    assert block.sql_line == 10


def test_list_items_at_the_depth_of_the_at_sign_continue_too() -> None:
    (block,) = split_sql_file(
        "-- @primary_key:\n-- - order_id\n-- - line\nselect 1 as order_id, 2 as line\n", "m.sql"
    )
    assert block.options["primary_key"] == ["order_id", "line"]


def test_an_unclosed_flow_value_continues_until_it_closes() -> None:
    (block,) = split_sql_file(
        "-- @quality_checks: [{not_null: id},\n"
        "--   {unique: id},\n"
        "-- {row_count: {min: 1}}]\n"
        "-- not part of the value\n"
        "select 1 as id\n",
        "m.sql",
    )
    assert block.options["quality_checks"] == [
        {"not_null": "id"},
        {"unique": "id"},
        {"row_count": {"min": 1}},
    ]


def test_a_block_scalar_keeps_paragraphs_across_blank_comment_lines() -> None:
    (block,) = split_sql_file(
        "-- @description: |\n"
        "--   Revenue per day.\n"
        "--\n"
        "--   Refunds are netted out.\n"
        "--\n"
        "select 1 as day\n",
        "m.sql",
    )
    assert block.options["description"] == "Revenue per day.\n\nRefunds are netted out.\n"


def test_comments_after_a_complete_value_are_ordinary_comments() -> None:
    (block,) = split_sql_file(
        "-- @description: Orders\n--   indented note\n-- @tags: []\nselect 1 as id\n", "m.sql"
    )
    assert block.options == {"description": "Orders", "tags": []}


def test_a_yaml_mistake_in_a_continued_value_names_its_line() -> None:
    with pytest.raises(ModelDefinitionError) as info:
        split_sql_file(
            "-- @quality_checks:\n--   - {not_null: id}\n--   - {unique: [id}\nselect 1 as id\n",
            "models/orders.sql",
        )
    assert info.value.file == "models/orders.sql"
    assert info.value.line == 3
    assert "@quality_checks" in info.value.message
