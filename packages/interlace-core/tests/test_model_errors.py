"""Bad model definitions fail at load with file:line, model, key and a fix (SPEC §2.1, §2.4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from interlace.errors import (
    GraphError,
    InterlaceError,
    ModelDefinitionError,
    ProjectError,
    SQLParseError,
)

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir


def load_error(project: ProjectDir, kind: type[InterlaceError] = InterlaceError) -> InterlaceError:
    with pytest.raises(kind) as info:
        project.load()
    return info.value


def test_unknown_model_keyword_is_an_error_with_did_you_mean(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/orders.py": """
                from interlace import model

                @model(materalize="view")
                def orders():
                    return []
            """
        }
    )
    error = load_error(project, ModelDefinitionError)
    text = str(error)
    assert text.startswith("models/orders.py:3: model 'orders': unknown model option 'materalize'")
    assert "did you mean 'materialize'?" in text
    assert (error.file, error.line, error.model) == ("models/orders.py", 3, "orders")


def test_unknown_materialize_value_in_python_lists_the_choices(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/orders.py": """
                from interlace import model

                @model(materialize="tabel")
                def orders():
                    return []
            """
        }
    )
    text = str(load_error(project, ModelDefinitionError))
    assert "models/orders.py:3" in text
    assert "model 'orders'" in text
    assert "option 'materialize' has invalid value 'tabel'" in text
    assert "'table'" in text and "'view'" in text and "'ephemeral'" in text


def test_unknown_strategy_value_in_python_lists_the_choices(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/orders.py": """
                from interlace import model

                @model(strategy="upsert")
                def orders():
                    return []
            """
        }
    )
    text = str(load_error(project, ModelDefinitionError))
    assert "models/orders.py:3" in text
    assert "'strategy'" in text and "'upsert'" in text
    assert "'replace'" in text and "'append'" in text


def test_unknown_materialize_value_in_a_sql_header_names_its_line(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/orders.sql": """
                -- @tags: [sales]
                -- @materialize: tabel
                SELECT 1 AS id
            """
        }
    )
    error = load_error(project, ModelDefinitionError)
    text = str(error)
    assert text.startswith("models/orders.sql:2: model 'orders':")
    assert "'materialize' has invalid value 'tabel'" in text
    assert "'table'" in text


def test_unknown_strategy_in_a_sql_header_names_its_line(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/two.sql": """
                -- @name: first
                SELECT 1 AS id

                -- @name: second
                -- @strategy: upsert
                SELECT 2 AS id
            """
        }
    )
    error = load_error(project, ModelDefinitionError)
    assert (error.file, error.line, error.model) == ("models/two.sql", 5, "second")
    assert "'upsert'" in str(error)
    assert "'append'" in str(error)


def test_unknown_sql_header_key_suggests_the_right_one(make_project: MakeProject) -> None:
    project = make_project({"models/orders.sql": "-- @tag: [x]\nSELECT 1 AS id"})
    text = str(load_error(project, ModelDefinitionError))
    assert "models/orders.sql:1" in text
    assert "unknown model option 'tag'" in text
    assert "did you mean 'tags'?" in text


def test_wrong_option_type_names_the_option(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/orders.py": """
                from interlace import model

                @model(strict="very")
                def orders():
                    return []
            """
        }
    )
    text = str(load_error(project, ModelDefinitionError))
    assert "models/orders.py:3" in text
    assert "option 'strict'" in text


def test_unknown_field_type_names_the_column(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/orders.py": """
                from interlace import model

                @model(fields={"id": "int64", "amount": "monies"})
                def orders():
                    return []
            """
        }
    )
    text = str(load_error(project, ModelDefinitionError))
    assert "models/orders.py:3" in text
    assert "column 'amount'" in text
    assert "monies" in text


def test_sql_syntax_error_points_at_the_file_line_of_the_error(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/report.sql": """
                -- @name: fine
                SELECT 1 AS id

                -- @name: report
                -- @tags: [x]
                SELECT id,
                       amount
                FROM fine
                WHERE (amount > 3
            """
        }
    )
    error = load_error(project, SQLParseError)
    assert (error.file, error.line, error.model) == ("models/report.sql", 9, "report")
    assert "SQL syntax error" in str(error)
    assert error.hint and "duckdb" in error.hint


def test_sql_model_with_two_statements_is_refused(make_project: MakeProject) -> None:
    project = make_project({"models/double.sql": "SELECT 1 AS a;\nSELECT 2 AS b;"})
    error = load_error(project, SQLParseError)
    assert "2 statements" in str(error)
    assert "@name" in (error.hint or "")


def test_table_sql_model_that_is_not_a_query_is_refused(make_project: MakeProject) -> None:
    project = make_project({"models/ddl.sql": "-- @tags: [x]\nCREATE TABLE t (id INT)"})
    error = load_error(project, ModelDefinitionError)
    assert (error.file, error.line) == ("models/ddl.sql", 2)
    assert "CREATE statement" in str(error)
    assert "materialize: none" in (error.hint or "")


def test_dependency_cycle_prints_the_cycle(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/a.sql": "SELECT * FROM b",
            "models/b.sql": "SELECT * FROM a",
            "models/c.sql": "SELECT 1 AS id",
        }
    )
    error = load_error(project, GraphError)
    assert "dependency cycle: a -> b -> a" in str(error)
    assert error.hint


def test_longer_cycle_through_python_and_sql_is_printed_in_data_flow_order(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/x.py": """
                from interlace import model

                @model
                def x(z):
                    return z
            """,
            "models/y.sql": "SELECT * FROM x",
            "models/z.sql": "SELECT * FROM y",
        }
    )
    assert "dependency cycle: x -> y -> z -> x" in str(load_error(project, GraphError))


def test_unknown_name_in_python_dependencies_suggests_a_model(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/orders.sql": "SELECT 1 AS id",
            "models/report.py": """
                from interlace import model

                @model(dependencies=["order"])
                def report():
                    return None
            """,
        }
    )
    error = load_error(project, GraphError)
    assert (error.file, error.line, error.model) == ("models/report.py", 3, "report")
    assert "unknown model 'order'" in str(error)
    assert "did you mean 'orders'?" in str(error)


def test_unknown_name_in_sql_dependencies_header_is_an_error(make_project: MakeProject) -> None:
    project = make_project({"models/report.sql": "-- @dependencies: [ghost]\nSELECT 1 AS id"})
    error = load_error(project, GraphError)
    assert (error.file, error.model) == ("models/report.sql", "report")
    assert "ghost" in str(error)


def test_duplicate_model_names_across_files_name_both_places(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/a_python.py": """
                from interlace import model

                @model(name="orders")
                def build_orders():
                    return []
            """,
            "models/sales/orders.sql": "SELECT 1 AS id",
        }
    )
    error = load_error(project, ProjectError)
    text = str(error)
    assert "two models are named 'orders'" in text
    assert "models/a_python.py:3" in text
    assert "models/sales/orders.sql:1" in text
    assert "rename" in (error.hint or "")


def test_model_names_differing_only_by_case_fail_at_load_naming_both_places(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/a_python.py": """
                from interlace import model

                @model
                def Orders():
                    return [{"id": 1}]
            """,
            "models/orders.sql": "SELECT 2 AS id",
        }
    )
    error = load_error(project, ProjectError)
    text = str(error)
    assert "'Orders' (models/a_python.py:3) and 'orders' (models/orders.sql:1)" in text
    assert "differ only by case" in text
    assert "main.orders" in text
    assert "rename one of them" in (error.hint or "")
    assert not project.db_path().exists(), "nothing ran"


def test_model_names_differing_by_case_in_different_schemas_both_run(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/a_python.py": """
                from interlace import model

                @model(schema="raw")
                def Orders():
                    return [{"id": 1}]
            """,
            "models/orders.sql": "SELECT 2 AS id",
        }
    )
    project.run_ok()
    assert project.sql("SELECT id FROM raw.Orders") == [(1,)]
    assert project.sql("SELECT id FROM main.orders") == [(2,)]


def test_python_parameter_that_is_not_a_model_is_an_error(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/orders.sql": "SELECT 1 AS id",
            "models/report.py": """
                from interlace import model

                @model
                def report(orders, customers):
                    return orders
            """,
        }
    )
    error = load_error(project, GraphError)
    assert (error.file, error.line, error.model) == ("models/report.py", 3, "report")
    assert "parameter 'customers' is not a model" in str(error)
    assert "dependencies=" in (error.hint or "")


def test_dependencies_mapping_lets_a_parameter_read_another_model(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/orders.sql": "SELECT 1 AS id",
            "models/report.py": """
                from interlace import model

                @model(dependencies={"src": "orders"})
                def report(src, limit=10):
                    return src.limit(limit)
            """,
        }
    )
    assert project.load().models["report"].depends_on == ("orders",)
    project.run_ok()
    assert project.sql("SELECT id FROM report") == [(1,)]


def test_python_syntax_error_in_a_model_file_names_the_line(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/broken.py": """
                from interlace import model

                @model
                def broken(:
                    return []
            """
        }
    )
    error = load_error(project, ProjectError)
    assert (error.file, error.line) == ("models/broken.py", 4)
    assert "syntax error" in str(error)


def test_exception_while_importing_a_model_file_names_the_line(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/boom.py": """
                from interlace import model

                SETTINGS = {}
                TIMEOUT = SETTINGS["timeout"]
            """
        }
    )
    error = load_error(project, ProjectError)
    assert (error.file, error.line) == ("models/boom.py", 4)
    assert "KeyError" in str(error)


def test_model_on_an_unknown_connection_is_an_error(make_project: MakeProject) -> None:
    project = make_project({"models/remote.sql": "-- @connection: warehouse\nSELECT 1 AS id"})
    error = load_error(project, ModelDefinitionError)
    assert (error.file, error.line, error.model) == ("models/remote.sql", 1, "remote")
    assert "warehouse" in str(error)
    assert "default" in (error.hint or "")


def test_decorated_function_stays_a_plain_callable() -> None:
    from interlace import model

    @model(tags=["x"])
    def double(n: int) -> int:
        """Twice n."""
        return n * 2

    assert double(21) == 42
    declaration = double.__interlace_model__  # type: ignore[attr-defined]
    assert declaration.options.description == "Twice n."
    assert declaration.options.tags == ("x",)


def test_model_imported_into_another_model_file_is_not_a_duplicate(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/base.py": """
                from interlace import model

                @model
                def base():
                    return [{"id": 1}]
            """,
            "models/derived.py": """
                from interlace import model
                from models.base import base  # reused for a unit test, say

                @model
                def derived(base):
                    return base.mutate(id=base.id + 1)
            """,
        }
    )
    loaded = project.load()
    assert set(loaded.models) == {"base", "derived"}
    assert loaded.models["base"].file == "models/base.py"
    project.run_ok()
    assert project.sql("SELECT id FROM derived") == [(2,)]
