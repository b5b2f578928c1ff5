"""Fixtures of the adapter tests: the real brokers on this machine.

Each ``*_url`` fixture skips the test when its broker cannot be reached, except in CI
(``CI=true``), where it fails it: a green CI run always means the adapter was tested against the
real server. Addresses come from ``INTERLACE_TEST_REDIS_URL``, ``_AMQP_URL``, ``_NATS_URL`` and
``_MQTT_URL``.
"""

from __future__ import annotations

import pytest
from interlace.testing.prerequisites import require

from .support import AMQP_URL, MQTT_URL, NATS_URL, REDIS_URL, reachable


def _server(kind: str, url: str, start: str, variable: str) -> str:
    require(
        reachable(url),
        f"the {kind} test server at {url}",
        f"start it (`{start}`) or point {variable} at one",
    )
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    return _server("Redis", REDIS_URL, "redis-server", "INTERLACE_TEST_REDIS_URL")


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return _server("RabbitMQ", AMQP_URL, "rabbitmq-server", "INTERLACE_TEST_AMQP_URL")


@pytest.fixture(scope="session")
def nats_url() -> str:
    return _server("NATS", NATS_URL, "nats-server -js", "INTERLACE_TEST_NATS_URL")


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    return _server("MQTT", MQTT_URL, "mosquitto", "INTERLACE_TEST_MQTT_URL")
