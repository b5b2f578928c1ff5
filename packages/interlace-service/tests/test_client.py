"""The Python client (``interlace_service.client.Client``) against a real ``interlace serve``
process: it finds the server of a project, lists models, triggers, follows, waits for and
cancels runs, reports the server's errors with their message, and its event stream picks up
where it left off when the server restarts."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator

import pytest
from interlace.testing import ProjectFolder
from interlace_service.client import Client, ServerEvent, ServiceError, ServiceUnreachable
from interlace_service.testing import (
    SLOW_MODEL,
    ServeProcess,
    cli_env,
    free_port,
    interlace_command,
    wait_for,
)

MODELS = {
    "models/orders.sql": """
        -- @tags: [sales]
        SELECT * FROM (VALUES (1, 10.0), (2, 20.0)) AS t(id, amount)
    """,
    "models/revenue.sql": """
        -- @tags: [sales, finance]
        SELECT sum(amount) AS total FROM orders
    """,
    "models/slow.py": SLOW_MODEL,
}


class Server(ServeProcess):
    """``interlace serve --no-ui --no-scheduler`` in the project, with its discovered client."""

    def __init__(self, folder: ProjectFolder) -> None:
        super().__init__(folder.root, "--no-ui", "--no-scheduler")

    def start(self) -> None:
        super().start()
        self.client: Client = wait_for(
            lambda: Client.discover(self.root), 60, "interlace serve to answer"
        )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> ProjectFolder:
    root = tmp_path_factory.mktemp("client") / "shop"
    return ProjectFolder.create(root).write(MODELS)


@pytest.fixture(scope="module")
def server(folder: ProjectFolder) -> Iterator[Server]:
    with Server(folder) as served:
        yield served
        (folder.root / "slow.gate").write_text("")


def test_discover_finds_the_server_of_the_project_and_only_in_its_environment(
    server: Server, folder: ProjectFolder
) -> None:
    client = Client.discover(folder.root)

    assert client is not None and client.server is not None
    assert server.process is not None and client.server.pid == server.process.pid
    assert client.url == f"http://127.0.0.1:{server.port}"
    health = client.health()
    assert (health.status, health.project, health.env) == ("ok", "test_project", "dev")
    assert Client.discover(folder.root, "prod") is None


def test_models_lists_the_project_filtered_by_tag_and_search(server: Server) -> None:
    client = server.client

    everything = client.models()
    finance = client.models(tag="finance")
    found = client.models(search="rev")

    assert sorted(m.name for m in everything) == ["orders", "revenue", "slow"]
    assert [m.name for m in finance] == ["revenue"]
    assert finance[0].depends_on == ["orders"] and finance[0].kind == "sql"
    assert [m.name for m in found] == ["revenue"]


def test_a_triggered_run_is_followed_over_events_and_read_back(server: Server) -> None:
    client = server.client

    run = client.trigger_run(["+revenue"], force=True)
    events: list[ServerEvent] = []
    for event in client.events(run_id=run.id):
        events.append(event)
        if event.ends_request:
            break

    kinds = [e.type for e in events]
    assert run.status == "queued" and run.models == ["orders", "revenue"]
    assert kinds[:2] == ["run.queued", "run.running"]
    assert kinds[-2:] == ["run.completed", "run.ended"]
    assert kinds.count("task.completed") == 2
    ids = [e.id for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    done = client.run(run.id)
    assert (done.status, done.succeeded, done.failed) == ("success", 2, 0)
    assert {t.model: t.rows for t in client.tasks(run.id)} == {"orders": 2, "revenue": 1}
    assert client.runs(limit=1).items[0].id == run.id
    assert any(r.id == run.id for r in client.runs(status="success", model="revenue").items)


def test_cancel_stops_a_running_run_and_wait_returns_it_ended(
    server: Server, folder: ProjectFolder
) -> None:
    client = server.client
    for name in ("slow.gate", "slow.started"):
        (folder.root / name).unlink(missing_ok=True)
    run = client.trigger_run(["slow"])
    wait_for((folder.root / "slow.started").exists, 60, "slow to start")

    cancelling = client.cancel(run.id)
    ended = client.wait(run.id, timeout=60)

    assert cancelling.cancel_requested
    assert ended.status == "cancelled"
    with pytest.raises(ServiceError) as again:
        client.cancel(run.id)
    assert again.value.status == 409


def test_the_servers_errors_arrive_with_their_status_code_and_message(
    server: Server, folder: ProjectFolder
) -> None:
    url = server.client.url
    reader = Client(url, api_key=server.api_key("client-read", "read"))

    with pytest.raises(ServiceError) as unknown:
        reader.run("no-such-run")
    with pytest.raises(ServiceError) as refused:
        reader.trigger_run(["orders"])
    with pytest.raises(ServiceError) as anonymous:
        Client(url).runs()
    with pytest.raises(ServiceUnreachable) as nobody:
        Client(f"http://127.0.0.1:{free_port()}", timeout=5).runs()

    assert (unknown.value.status, unknown.value.code) == (404, "not_found")
    assert "no run 'no-such-run'" in str(unknown.value)
    assert unknown.value.request_id
    assert refused.value.status == 403 and "execute" in str(refused.value)
    assert anonymous.value.status == 401 and "api_key=" in str(anonymous.value)
    assert "did not answer" in str(nobody.value) and "interlace serve" in str(nobody.value)
    assert [m.name for m in reader.models(tag="sales")] == ["orders", "revenue"]


def test_events_reconnect_with_last_event_id_and_miss_nothing_across_a_restart(
    server: Server, folder: ProjectFolder
) -> None:
    key = server.api_key("client-execute", "execute")
    client = Client(server.client.url, api_key=key)
    first = client.trigger_run(["orders"], force=True)
    ended = next(e for e in client.events(run_id=first.id, reconnect=False) if e.ends_request)
    received: list[ServerEvent] = []

    def listen() -> None:
        events = client.events(types=["run.completed"], after=ended.id, attempts=40)
        received.append(next(events))

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    server.stop()  # the stream ends: the client reconnects until the server is back
    local = subprocess.run(
        [interlace_command(), "run", "orders", "--force"],
        cwd=folder.root,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert local.returncode == 0, local.stdout + local.stderr
    server.start()  # on the same port
    listener.join(timeout=120)

    assert not listener.is_alive(), "no event after the server came back"
    assert len(received) == 1 and received[0].type == "run.completed"
    assert received[0].id > ended.id
    assert received[0].data["run_id"] != first.id  # the command line's run, made meanwhile
