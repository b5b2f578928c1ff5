"""What `interlace run` prints about failures when its output is not a terminal (logs, CI):
whole error lines, never cut mid-word, and checks that failed after the models were built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace_cli.progress import first_line

if TYPE_CHECKING:
    from conftest import Folder

REASON = (
    "the upstream feed answered with an unexpected payload: "
    + " ".join(f"field_{i} was missing" for i in range(30))
    + " and the end of the message is here"
)


def test_a_failed_models_error_line_is_whole_when_piped(project: Folder) -> None:
    assert len(REASON) > 300
    project.write(
        {
            "models/feed.py": f"""
                from interlace import model


                @model
                def feed():
                    raise ValueError({REASON!r})
            """
        }
    )
    result = project.interlace("run")

    assert result.code == 1, result
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("  ✗ feed")]
    assert line == f"  ✗ feed  ValueError: {REASON}"


def test_on_a_terminal_long_errors_are_cut_at_a_word_with_an_ellipsis() -> None:
    text = "cannot read the table because the connection was closed by the server"
    assert first_line(text, 40) == "cannot read the table because the…"
    assert first_line(text, None) == text
    assert first_line("first line\nsecond line", None) == "first line"
    assert first_line(text, 1000) == text


def test_a_failing_audit_check_is_printed_and_fails_the_run(project: Folder) -> None:
    project.write(
        {
            "models/models.sql": """
                -- @name: stg_orders
                -- @quality_checks:
                --   - relationships: {column: customer_id, to: customers}
                select * from (values (1, 1), (2, 9)) t(order_id, customer_id)

                -- @name: customers
                select distinct customer_id from stg_orders where customer_id < 5
            """
        }
    )
    result = project.interlace("run")

    assert result.code == 1, result
    assert "audit stg_orders  ✗ relationships(customer_id -> customers.customer_id): 1 row(s)" in (
        result.stdout
    )
    assert "2 succeeded, 0 failed, 1 audit check(s) failed" in result.stdout
    assert "stg_orders  checked after the run" in result.stdout
