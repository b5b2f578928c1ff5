"""Adapter YAML: every mistake is a ConfigError naming the adapter and the field; the registry
knows the five types; broker clients are imported only when an adapter runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import yaml
from interlace.errors import ConfigError
from interlace_stream.adapters import REGISTRY, build_adapter, build_adapters


def _error(raw: object) -> str:
    with pytest.raises(ConfigError) as caught:
        build_adapters(raw if isinstance(raw, list) else [raw])
    return str(caught.value)


def test_registry_has_every_adapter_type() -> None:
    assert sorted(REGISTRY) == [
        "filesystem",
        "message_queue",
        "polling",
        "pubsub",
        "webhook",
        "webhook_out",
    ]


def test_adapters_load_from_yaml() -> None:
    config = yaml.safe_load(
        textwrap.dedent(
            """
            adapters:
              - name: orders_from_rabbit
                type: message_queue
                stream: orders
                broker: amqp
                url: amqp://guest:guest@127.0.0.1:5672/
                queue: orders
              - name: tickets
                type: polling
                stream: tickets
                url: https://api.example.com/tickets
                interval: 30s
                cursor: {param: since, from_item: updated_at}
            """
        )
    )
    rabbit, tickets = build_adapters(config["adapters"])
    assert (rabbit.name, rabbit.type_name, rabbit.health().state) == (
        "orders_from_rabbit",
        "message_queue",
        "down",  # not started yet
    )
    assert tickets.config.interval == 30.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {
                "name": "q",
                "type": "message_queue",
                "stream": "s",
                "broker": "amqp",
                "url": "amqp://x",
            },
            "adapter 'q' (type message_queue): broker 'amqp' needs 'queue'",
        ),
        (
            {"name": "q", "type": "message_queue", "stream": "s", "broker": "kafka", "url": "x"},
            "adapter 'q' (type message_queue): field 'broker'",
        ),
        (
            {"name": "p", "type": "pubsub", "stream": "s", "broker": "mqtt", "url": "mqtt://x"},
            "broker 'mqtt' needs 'topics'",
        ),
        (
            {"name": "p", "type": "pubsub", "stream": "s", "broker": "redis", "url": "r", "qos": 2},
            "field 'qos'",
        ),
        (
            {"name": "f", "type": "filesystem", "stream": "s", "path": "in", "colour": "red"},
            "adapter 'f' (type filesystem): field 'colour': Extra inputs are not permitted",
        ),
        (
            {"name": "t", "type": "polling", "stream": "s", "url": "ftp://x"},
            "adapter 't' (type polling): field 'url'",
        ),
        (
            {
                "name": "t",
                "type": "polling",
                "stream": "s",
                "url": "http://x",
                "cursor": {"param": "since"},
            },
            "set exactly one of 'from_item' and 'from_response'",
        ),
        (
            {"name": "t", "type": "polling", "stream": "s", "url": "http://x", "interval": "soon"},
            "field 'interval': invalid duration 'soon'",
        ),
        ({"name": "x", "type": "kafka", "stream": "s"}, "adapter 'x': unknown type 'kafka'"),
        ({"name": "x", "stream": "s"}, "adapter 'x': no 'type'"),
        ({"type": "webhook", "stream": "s", "secret": "k"}, "field 'name': Field required"),
        ("just a string", "adapters[0]: expected a mapping"),
    ],
)
def test_bad_adapter_config_names_the_adapter_and_the_field(raw: object, expected: str) -> None:
    message = _error(raw)
    assert expected in message, message


def test_unknown_type_lists_the_known_ones() -> None:
    assert "filesystem, message_queue, polling, pubsub, webhook, webhook_out" in _error(
        {"name": "x", "type": "kafka", "stream": "s"}
    )


def test_two_adapters_with_one_name_are_refused() -> None:
    hook = {"name": "same", "type": "webhook", "stream": "s", "secret": "k"}
    assert "adapters[1]: the name 'same' is used twice" in _error([hook, hook])


def test_broker_clients_are_imported_only_when_an_adapter_runs() -> None:
    code = textwrap.dedent(
        """
        import sys
        from interlace_stream.adapters import build_adapter
        build_adapter({"name": "q", "type": "message_queue", "stream": "s", "broker": "amqp",
                       "url": "amqp://x", "queue": "q"})
        heavy = {"aio_pika", "nats", "redis", "aiomqtt", "paho", "watchfiles"}
        print(sorted(heavy & {name.split(".")[0] for name in sys.modules}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stdout


def test_health_is_json_ready() -> None:
    adapter = build_adapter({"name": "hook", "type": "webhook", "stream": "s", "secret": "k"})
    assert adapter.health().to_dict() == {
        "name": "hook",
        "type": "webhook",
        "stream": "s",
        "state": "down",
        "last_error": None,
        "last_error_at": None,
        "last_event_at": None,
        "counters": {"received": 0, "published": 0, "acked": 0, "rejected": 0, "reconnects": 0},
    }


def test_a_missing_broker_client_is_down_naming_what_to_install(tmp_path: object) -> None:
    """Without its client library (an extra of interlace-stream), an adapter stays down and its
    health says which extra to install, not a bare ModuleNotFoundError."""
    code = textwrap.dedent(
        """
        import asyncio, sys
        sys.modules["watchfiles"] = None  # as if interlace-stream[files] were not installed
        from interlace_stream.adapters import build_adapter

        adapter = build_adapter(
            {"name": "drops", "type": "filesystem", "stream": "s", "path": "."},
            project_dir=sys.argv[1],
        )

        async def main():
            stop = asyncio.Event()
            task = asyncio.create_task(adapter.run(None, stop))
            while adapter.health().last_error is None:
                await asyncio.sleep(0.01)
            stop.set()
            await task
            print(adapter.health().state, "|", adapter.health().last_error)

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == (
        "down | the client library 'watchfiles' is not installed: "
        "pip install 'interlace-stream[files]'"
    ), done.stdout + done.stderr
