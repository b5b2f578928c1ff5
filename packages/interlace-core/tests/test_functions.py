"""functions/ (SPEC §7.5): Python UDFs and SQL macros available to every SQL model."""

from __future__ import annotations

import duckdb
import pytest
from interlace.errors import InterlaceError
from interlace.functions import FunctionError, load_functions

from .conftest import MakeProject

FUNCTIONS = {
    "functions/text.py": """
        import datetime as dt

        from decimal import Decimal


        def initials(name: str) -> str:
            return "".join(part[0].upper() for part in name.split())


        def days_between(a: dt.date, b: dt.date) -> int:
            return (b - a).days


        def label(value: int | None) -> str:
            return "none" if value is None else f"#{value}"


        def tags(text: str) -> list[str]:
            return text.split(",")


        def _helper(x):  # private: not a SQL function, needs no annotations
            return x
        """,
    "functions/money.sql": """
        -- money helpers
        CREATE MACRO cents_to_dollars(c) AS round(c / 100.0, 2);

        create or replace macro twice(x) as x * 2;
        CREATE MACRO big_orders(minimum) AS TABLE
            SELECT * FROM (VALUES (1, 500), (2, 5000)) t(id, cents) WHERE cents >= minimum;
        """,
}


def test_udfs_and_macros_are_usable_from_every_sql_model(make_project: MakeProject) -> None:
    project = make_project(
        {
            **FUNCTIONS,
            "models/people.sql": """
                SELECT initials('ada lovelace') AS ini,
                       days_between(DATE '2024-01-01', DATE '2024-03-01') AS days,
                       label(NULL) AS nothing, label(7) AS seven,
                       tags('a,b') AS tag_list,
                       cents_to_dollars(1234) AS dollars, twice(21) AS answer
            """,
            "models/big.sql": "SELECT * FROM big_orders(1000)",
            "models/view_of_macro.sql": """
                -- @materialize: view
                SELECT twice(id) AS doubled FROM big
            """,
        }
    )
    project.run_ok()
    assert project.rows("people") == [
        {
            "ini": "AL",
            "days": 60,
            "nothing": "none",
            "seven": "#7",
            "tag_list": ["a", "b"],
            "dollars": 12.34,
            "answer": 42,
        }
    ]
    assert project.rows("big") == [{"id": 2, "cents": 5000}]
    # the macro is stored in the database: the view works outside Interlace too
    assert project.sql("SELECT doubled FROM view_of_macro") == [(4,)]
    types = project.columns("people")
    assert types["days"] == "BIGINT" and types["tag_list"] == "VARCHAR[]"


def test_python_models_and_their_upstreams_run_after_registration(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            **FUNCTIONS,
            "models/names.py": """
                from interlace import model

                @model
                def names(context):
                    row = context.connection.execute("SELECT initials('grace hopper')").fetchone()
                    return [{"i": row[0]}]
            """,
        }
    )
    project.run_ok()
    assert project.rows("names") == [{"i": "GH"}]


def test_a_function_without_annotations_is_an_error_naming_it_and_the_fix(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {"functions/bad.py": "import math\n\n\ndef area(r):\n    return math.pi * r * r\n"}
    )
    with pytest.raises(FunctionError) as info:
        project.load()
    text = str(info.value)
    assert "functions/bad.py:4" in text
    assert "function 'area'" in text and "parameter 'r' has no type annotation" in text
    assert "def area(r: int" in text and "_area" in text


def test_a_missing_return_annotation_and_an_unknown_type_are_errors(
    make_project: MakeProject,
) -> None:
    project = make_project({"functions/f.py": "def f(x: int):\n    return x\n"})
    with pytest.raises(FunctionError, match=r"f\.py:1.*no return type annotation"):
        project.load()
    other = make_project({"functions/g.py": "def g(x: dict) -> int:\n    return 1\n"})
    with pytest.raises(FunctionError, match="annotated dict, which has no SQL type"):
        other.load()


def test_a_bad_macro_names_the_file_and_the_line_of_its_statement(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "functions/m.sql": """
                CREATE MACRO ok(x) AS x + 1;

                -- broken below
                CREATE MACRO broken(x) AS x +;
            """
        }
    )
    with pytest.raises(FunctionError) as info:
        project.load()
    assert "functions/m.sql:4" in str(info.value)
    assert "macro 'broken' cannot be created" in str(info.value)


def test_a_sql_file_must_hold_create_macro_statements(make_project: MakeProject) -> None:
    project = make_project({"functions/x.sql": "SELECT 1;\n"})
    with pytest.raises(FunctionError, match=r"x\.sql:1.*expected CREATE MACRO"):
        project.load()


def test_an_import_error_and_a_duplicate_name_name_the_file_and_line(
    make_project: MakeProject,
) -> None:
    broken = make_project({"functions/a.py": "x = 1\nraise RuntimeError('boom')\n"})
    with pytest.raises(FunctionError, match=r"a\.py:2.*RuntimeError: boom"):
        broken.load()
    duplicate = make_project(
        {
            "functions/a.py": "def twice(x: int) -> int:\n    return 2 * x\n",
            "functions/b.sql": "CREATE MACRO twice(x) AS 2 * x;\n",
        }
    )
    with pytest.raises(InterlaceError, match=r"b\.sql:1.*also defined in functions/a\.py:1"):
        duplicate.load()


def test_a_project_without_functions_loads_nothing(make_project: MakeProject) -> None:
    project = make_project({"models/a.sql": "SELECT 1 AS x"})
    assert not load_functions(project.root)
    assert not project.load().functions


def test_a_read_only_database_gets_temporary_macros(make_project: MakeProject) -> None:
    """On a read-only connection macros cannot be stored: each session gets them as TEMP."""
    project = make_project({"functions/m.sql": "CREATE MACRO twice(x) AS 2 * x;"})
    project.db_path().parent.mkdir(parents=True)
    duckdb.connect(str(project.db_path())).close()
    project.write(
        {
            "config.yaml": """
                name: ro
                connections:
                  default: {type: duckdb, path: data/dev.duckdb, access: read}
            """
        }
    )
    from interlace.api import open_engines

    engine = open_engines(project.load())["default"]
    try:
        session = engine.session()
        assert session.fetch_all("SELECT twice(4)") == [(8,)]
        session.close()
    finally:
        engine.close()
    assert project.sql("SELECT count(*) FROM duckdb_functions() WHERE function_name = 'twice'") == [
        (0,)
    ]
