"""Publishing over HTTP into a stream's durable log, and the committer moving events into the
stream's table, exactly once, where downstream models read only new rows."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING

from interlace_http.testing import ServedApp

if TYPE_CHECKING:
    from conftest import Eventually, ReadRows
    from interlace.testing import ProjectFolder

MODELS = {
    "models/events.py": """
        from interlace_stream import stream

        orders = stream(
            "orders",
            fields={"id": "int64", "amount": "float64", "customer": "string", "at": "timestamp"},
        )
    """,
    "models/order_totals.sql": """
        -- @strategy: append
        -- @cursor: _stream_offset
        SELECT _stream_offset, id, amount * 2 AS doubled FROM orders
    """,
}


def served(folder: ProjectFolder) -> ServedApp:
    from interlace_stream.server import create_stream_app

    # the runtime's tables live in a DuckDB file the test reads between commits
    return ServedApp(create_stream_app(folder.load()))


def test_publish_json_object_array_and_ndjson_land_in_the_table_once(
    project: ProjectFolder, eventually: Eventually, read_rows: ReadRows
) -> None:
    project.write(MODELS)
    with served(project) as app:
        one = app.call("POST", "/api/v1/streams/orders", json={"id": 1, "amount": 2.5})
        assert one.status == 200, one
        assert one.json["accepted"] == 1 and one.json["first_offset"] == 0
        many = app.call(
            "POST",
            "/api/v1/streams/orders",
            data='[{"id": 2,\n "amount": 1.0},\n {"id": 3}]',  # pretty-printed JSON
            headers={"Content-Type": "application/json"},
        )
        assert many.status == 200 and many.json["accepted"] == 2, many
        ndjson = "\n".join(json.dumps({"id": i, "customer": f"c{i}"}) for i in (4, 5)) + "\n"
        lines = app.call(
            "POST",
            "/api/v1/streams/orders",
            data=ndjson,
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert lines.status == 200 and lines.json["last_offset"] == 4, lines
        rows = eventually(
            lambda: (
                len(read_rows(project, "select id from main.orders")) == 5
                and read_rows(project, "select id, _stream_offset from main.orders order by 1")
            )
        )
    assert rows == [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4)]
    # each commit is an event in the state store's history (what `/api/v1/events` serves)
    from interlace.opening import open_state

    store = open_state(project.load())
    try:
        commits = [e for e in store.events(run_id="orders") if e.type == "stream.committed"]
    finally:
        store.close()
    assert sum(e.data["rows"] for e in commits) == 5


def test_a_pretty_printed_json_object_is_stored_and_committed(
    project: ProjectFolder, eventually: Eventually, read_rows: ReadRows
) -> None:
    project.write(MODELS)
    with served(project) as app:
        reply = app.call(
            "POST",
            "/api/v1/streams/orders",
            data='{\n  "id": 7,\n  "at": "2024-01-01T10:00:00Z"\n}',
            headers={"Content-Type": "application/json"},
        )
        assert reply.status == 200, reply
        rows = eventually(lambda: read_rows(project, 'select id, "at" from main.orders'))
    assert [(r[0], str(r[1])) for r in rows] == [(7, "2024-01-01 10:00:00")]


def test_idempotency_key_stores_a_retried_request_once(
    project: ProjectFolder, eventually: Eventually, read_rows: ReadRows
) -> None:
    project.write(MODELS)
    with served(project) as app:
        headers = {"Idempotency-Key": "req-1"}
        body = [{"id": 10}, {"id": 11}]
        first = app.call("POST", "/api/v1/streams/orders", json=body, headers=headers)
        again = app.call("POST", "/api/v1/streams/orders", json=body, headers=headers)
        assert (first.json["accepted"], first.json["duplicates"]) == (2, 0), first
        assert (again.json["accepted"], again.json["duplicates"]) == (0, 2), again
        eventually(lambda: read_rows(project, "select count(*) from main.orders") == [(2,)])
    # a restart keeps the ids: a retry after it is still a duplicate
    with served(project) as app:
        later = app.call("POST", "/api/v1/streams/orders", json=body, headers=headers)
        assert later.json["duplicates"] == 2, later
    assert read_rows(project, "select count(*) from main.orders") == [(2,)]


def test_bad_input_gets_clear_errors(
    project: ProjectFolder, eventually: Eventually, read_rows: ReadRows
) -> None:
    project.write(MODELS)
    with served(project) as app:
        unknown = app.call("POST", "/api/v1/streams/nope", json={"id": 1})
        assert unknown.status == 404 and "orders" in unknown.json["error"]["message"]
        bad_json = app.call(
            "POST",
            "/api/v1/streams/orders",
            data="{oops",
            headers={"Content-Type": "application/json"},
        )
        assert bad_json.status == 400, bad_json
        bad_line = app.call(
            "POST",
            "/api/v1/streams/orders",
            data='{"id": 1}\n{"id": \n',
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert bad_line.status == 400 and "line 2" in bad_line.json["error"]["message"], bad_line
        wrong_type = app.call("POST", "/api/v1/streams/orders", json=[{"id": 1}, {"id": "two"}])
        assert wrong_type.status == 422, wrong_type
        message = wrong_type.json["error"]["message"]
        assert "event 1" in message and "'id'" in message, message
        assert wrong_type.json["error"]["details"] == {
            "index": 1,
            "field": "id",
            "stream": "orders",
        }
        unknown_field = app.call("POST", "/api/v1/streams/orders", json={"idd": 1})
        assert unknown_field.status == 422 and "'idd'" in unknown_field.json["error"]["message"]
        too_big = app.call(
            "POST",
            "/api/v1/streams/orders",
            data=b"[" + b" " * (17 * 1024 * 1024) + b"]",
            headers={"Content-Type": "application/json"},
        )
        assert too_big.status == 413, too_big
        # nothing of the refused requests was stored
        assert app.call("GET", "/api/v1/streams/orders").json["durable_offset"] == 0


def test_a_downstream_model_runs_after_publishes_and_reads_only_new_rows(
    project: ProjectFolder, eventually: Eventually, read_rows: ReadRows
) -> None:
    project.write(MODELS)
    with served(project) as app:
        app.call("POST", "/api/v1/streams/orders", json=[{"id": 1, "amount": 1.0}])
        eventually(lambda: read_rows(project, "select count(*) from main.order_totals") == [(1,)])
        app.call("POST", "/api/v1/streams/orders", json=[{"id": 2, "amount": 2.0}, {"id": 3}])
        rows = eventually(
            lambda: (
                read_rows(project, "select count(*) from main.order_totals") == [(3,)]
                and read_rows(project, "select id, doubled from main.order_totals order by id")
            )
        )
    assert rows == [(1, 2.0), (2, 4.0), (3, None)]


def test_concurrent_publishers_share_fsyncs(
    project: ProjectFolder, eventually: Eventually, read_rows: ReadRows
) -> None:
    project.write(MODELS)
    with served(project) as app:

        def post(i: int) -> None:
            reply = app.call("POST", "/api/v1/streams/orders", json={"id": i})
            assert reply.status == 200, reply

        threads = [threading.Thread(target=post, args=(i,)) for i in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        state = app.call("GET", "/api/v1/streams/orders").json
        assert state["durable_offset"] == 40
        assert state["fsyncs"] <= 40
        eventually(
            lambda: read_rows(project, "select count(distinct id) from main.orders") == [(40,)]
        )
