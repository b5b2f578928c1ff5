"""Fixtures of the adapter tests: the real brokers on this machine.

Each ``*_url`` fixture fails the test (never skips it) when its broker cannot be reached, so a
green run always means the adapter was tested against the real server. Addresses come from
``INTERLACE_TEST_REDIS_URL``, ``_AMQP_URL``, ``_NATS_URL`` and ``_MQTT_URL``.
"""

from __future__ import annotations

import os

import pytest

from .support import AMQP_URL, MQTT_URL, NATS_URL, REDIS_URL, reachable


def _server(kind: str, url: str, start: str) -> str:
    if not reachable(url):
        ci = " (CI=true: broker tests must run)" if os.environ.get("CI") == "true" else ""
        pytest.fail(
            f"{kind} test server unreachable at {url}{ci}: start it ({start}) or set the "
            f"INTERLACE_TEST_*_URL variable",
            pytrace=False,
        )
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    return _server("Redis", REDIS_URL, "redis-server")


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return _server("RabbitMQ", AMQP_URL, "rabbitmq-server")


@pytest.fixture(scope="session")
def nats_url() -> str:
    return _server("NATS", NATS_URL, "nats-server -js")


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    return _server("MQTT", MQTT_URL, "mosquitto")
