"""Schema modes (validate / evolve / quarantine with list and replay), retention, and streams
declared in config.yaml."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from interlace_http.testing import ServedApp

if TYPE_CHECKING:
    from conftest import Eventually, ReadRows
    from interlace.testing import ProjectFolder


def served(folder: ProjectFolder) -> ServedApp:
    from interlace_stream.server import create_stream_app

    return ServedApp(create_stream_app(folder.load()))


def test_evolve_adds_a_column_for_a_new_key(
    project: ProjectFolder, eventually: Eventually, read_rows: ReadRows
) -> None:
    project.write(
        {
            "models/events.py": """
                from interlace_stream import stream

                views = stream("views", fields={"page": "string"}, validate_schema="evolve")
            """
        }
    )
    with served(project) as app:
        assert app.call("POST", "/api/v1/streams/views", json={"page": "/a"}).status == 200
        eventually(lambda: read_rows(project, "select count(*) from main.views") == [(1,)])
        reply = app.call("POST", "/api/v1/streams/views", json={"page": "/b", "ms": 12, "ref": "x"})
        assert reply.status == 200, reply
        rows = eventually(
            lambda: (
                read_rows(project, "select count(*) from main.views") == [(2,)]
                and read_rows(project, "select page, ms, ref from main.views order by page")
            )
        )
        # a declared field still has its type
        wrong = app.call("POST", "/api/v1/streams/views", json={"page": 5})
        assert wrong.status == 422 and "'page'" in wrong.json["error"]["message"]
    assert rows == [("/a", None, None), ("/b", 12, "x")]
    types: dict[str, str] = dict(
        read_rows(
            project,
            "select column_name, data_type from information_schema.columns where table_name = 'views'",
        )
    )
    assert types["ms"] == "BIGINT" and types["ref"] == "VARCHAR"


def test_quarantine_keeps_bad_events_aside_and_replays_them_after_a_fix(
    project: ProjectFolder, eventually: Eventually, read_rows: ReadRows
) -> None:
    declaration = """
        from interlace_stream import stream

        payments = stream(
            "payments", fields={{"id": "int64", "amount": {amount}}}, validate_schema="quarantine"
        )
    """
    project.write({"models/events.py": declaration.format(amount='"int64"')})
    with served(project) as app:
        reply = app.call(
            "POST",
            "/api/v1/streams/payments",
            json=[{"id": 1, "amount": 5}, {"id": 2, "amount": 2.5}, {"id": 3, "extra": True}],
        )
        assert reply.status == 200 and reply.json["accepted"] == 3, reply
        eventually(lambda: read_rows(project, "select count(*) from main.payments") == [(1,)])
        listed = eventually(
            lambda: app.call("GET", "/api/v1/streams/payments/quarantine").json["events"]
        )
        assert [json.loads(e["payload"])["id"] for e in listed] == [2, 3]
        assert "field 'amount'" in listed[0]["error"] and "'extra'" in listed[1]["error"]
        state = app.call("GET", "/api/v1/streams").json["streams"][0]
        assert state["quarantined"] == 2
    # the fix: amount takes decimals, and the stream takes any extra key
    project.write(
        {
            "models/events.py": declaration.format(amount='"float64"').replace(
                '"quarantine"', '"evolve"'
            )
        }
    )
    with served(project) as app:
        replay = app.call("POST", "/api/v1/streams/payments/quarantine/replay")
        assert replay.status == 200 and replay.json == {
            "stream": "payments",
            "replayed": 2,
            "accepted": 2,
        }, replay
        rows = eventually(
            lambda: (
                read_rows(project, "select count(*) from main.payments") == [(3,)]
                and read_rows(project, "select id, amount from main.payments order by id")
            )
        )
        again = app.call("POST", "/api/v1/streams/payments/quarantine/replay")
        assert again.json["replayed"] == 0
    assert rows == [(1, 5.0), (2, 2.5), (3, None)]


def test_retention_max_rows_keeps_the_newest_rows_and_trims_the_log(
    project: ProjectFolder, eventually: Eventually, read_rows: ReadRows
) -> None:
    project.write(
        {
            "models/events.py": """
                from interlace_stream import stream

                ticks = stream("ticks", fields={"n": "int64"}, retention={"max_rows": 3})
            """
        }
    )
    project.write(
        {"config.yaml": (project.root / "config.yaml").read_text() + "  segment_bytes: 200\n"}
    )
    with served(project) as app:
        for n in range(8):
            assert app.call("POST", "/api/v1/streams/ticks", json={"n": n}).status == 200
        eventually(lambda: app.call("GET", "/api/v1/streams/ticks").json["lag"] == 0)
    # the last commit applied retention; committed log segments are gone
    assert read_rows(project, "select n from main.ticks order by n") == [(5,), (6,), (7,)]
    segments = list((project.root / ".interlace" / "streams" / "ticks").glob("*.seg"))
    assert len(segments) < 8


def test_a_stream_declared_in_config_yaml_feeds_a_model(
    project: ProjectFolder, eventually: Eventually, read_rows: ReadRows
) -> None:
    project.write(
        {
            "config.yaml": (project.root / "config.yaml").read_text()
            + """
streams:
  signups:
    fields: {email: string, plan: string}
    retention: {max_age: 30d}
""",
            "models/plans.sql": """
                -- @cursor: _stream_offset
                -- @strategy: append
                SELECT _stream_offset, plan FROM signups
            """,
        }
    )
    loaded = project.load()
    assert loaded.models["signups"].kind == "stream"
    assert loaded.models["plans"].depends_on == ("signups",)
    with served(project) as app:
        reply = app.call("POST", "/api/v1/streams/signups", json={"email": "a@x", "plan": "pro"})
        assert reply.status == 200, reply
        eventually(lambda: read_rows(project, "select plan from main.plans") == [("pro",)])


def test_a_wrong_declaration_is_a_load_error_naming_the_stream(project: ProjectFolder) -> None:
    from interlace.errors import InterlaceError

    project.write(
        {
            "models/events.py": """
                from interlace_stream import stream

                bad = stream("bad", fields={"n": "integr"}, validate_schema="strict")
            """
        }
    )
    try:
        project.load()
    except InterlaceError as exc:
        message = str(exc)
    else:
        raise AssertionError("the project loaded")
    assert "stream 'bad'" in message and "models/events.py" in message
    assert "validate_schema" in message and "field 'n': unknown type 'integr'" in message
