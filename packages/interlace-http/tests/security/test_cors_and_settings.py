"""CORS (preflights answered before auth, headers on every response) and the settings model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from interlace.errors import ConfigError
from interlace_http.settings import SecuritySettings, load_settings

if TYPE_CHECKING:
    from conftest import Harness

APP_ORIGIN = "https://app.example.com"


def preflight(origin: str, method: str = "POST", headers: str = "") -> dict[str, str]:
    sent = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        sent["Access-Control-Request-Headers"] = headers
    return sent


def test_a_preflight_from_an_allowed_origin_is_answered_without_credentials(h: Harness) -> None:
    cors = h.settings(cors={"allow_origins": [APP_ORIGIN], "allow_credentials": True})

    async def scenario() -> None:
        async with h.client(h.app(cors)) as client:
            reply = await client.options(
                "/api/v1/runs", headers=preflight(APP_ORIGIN, "POST", "Authorization, X-CSRF-Token")
            )
            assert reply.status == 204, await reply.text()
            assert reply.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
            assert reply.headers["Access-Control-Allow-Credentials"] == "true"
            assert "POST" in reply.headers["Access-Control-Allow-Methods"]
            assert "X-CSRF-Token" in reply.headers["Access-Control-Allow-Headers"]
            assert reply.headers["Access-Control-Max-Age"] == "600"
            assert "Origin" in reply.headers["Vary"]

    h.run(scenario)


def test_a_preflight_from_elsewhere_is_refused_saying_which_setting_to_change(
    h: Harness,
) -> None:
    cors = h.settings(cors={"allow_origins": [APP_ORIGIN]})

    async def scenario() -> None:
        async with h.client(h.app(cors)) as client:
            cases = [
                (preflight("https://evil.example"), "allow_origins"),
                (preflight(APP_ORIGIN, "TRACE"), "allow_methods"),
                (preflight(APP_ORIGIN, "GET", "X-Secret"), "allow_headers"),
            ]
            for headers, setting in cases:
                reply = await client.options("/api/v1/models", headers=headers)
                body = await reply.json()
                assert reply.status == 403, body
                assert body["error"]["code"] == "cors_forbidden"
                assert setting in body["error"]["message"]
                assert "Access-Control-Allow-Origin" not in reply.headers
        async with h.client(h.app()) as client:  # nothing allowed by default
            reply = await client.options("/api/v1/models", headers=preflight(APP_ORIGIN))
            assert reply.status == 403

    h.run(scenario)


def test_responses_to_an_allowed_origin_carry_cors_headers_even_refusals_and_streams(
    h: Harness,
) -> None:
    cors = h.settings(cors={"allow_origins": [APP_ORIGIN], "allow_credentials": True})
    origin = {"Origin": APP_ORIGIN}

    async def scenario() -> None:
        async with h.client(h.app(cors)) as client:
            ok = await client.get("/api/v1/models", headers={**origin, **h.bearer(h.keys["read"])})
            refused = await client.get("/api/v1/models", headers=origin)
            stream = await client.get(
                "/api/v1/events", headers={**origin, **h.bearer(h.keys["read"])}
            )
            for reply, status in ((ok, 200), (refused, 401), (stream, 200)):
                assert reply.status == status
                assert reply.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
                assert reply.headers["Access-Control-Allow-Credentials"] == "true"
                assert "X-Request-ID" in reply.headers["Access-Control-Expose-Headers"]
                assert "Origin" in reply.headers["Vary"]
            other = await client.get("/api/v1/health", headers={"Origin": "https://evil.example"})
            assert other.status == 200
            assert "Access-Control-Allow-Origin" not in other.headers
            plain = await client.get("/api/v1/health")
            assert "Access-Control-Allow-Origin" not in plain.headers

    h.run(scenario)


def test_any_origin_without_credentials_is_answered_with_a_star(h: Harness) -> None:
    cors = h.settings(cors={"allow_origins": ["*"]})

    async def scenario() -> None:
        async with h.client(h.app(cors)) as client:
            reply = await client.get("/api/v1/health", headers={"Origin": "https://a.example"})
            assert reply.headers["Access-Control-Allow-Origin"] == "*"
            assert "Access-Control-Allow-Credentials" not in reply.headers

    h.run(scenario)


def test_settings_default_to_auth_on_and_nothing_cross_origin() -> None:
    settings = SecuritySettings()
    assert settings.auth.enabled is True
    assert settings.auth.public_paths == ["/api/v1/health"]
    assert settings.auth.key_cache_ttl == 10.0
    assert settings.cors.allow_origins == []
    assert settings.rate_limit.enabled is True


def test_settings_read_durations_rates_and_addresses_in_the_forms_people_write() -> None:
    settings = load_settings(
        {
            "auth": {"key_cache_ttl": "1m"},
            "sessions": {"ttl": "8h"},
            "rate_limit": {
                "per_key": {"rate": "600/min", "burst": 20},
                "per_ip": {"rate": 2.5, "burst": 5},
            },
            "trusted_proxies": ["10.0.0.0/8", "192.168.1.7", "::1"],
        }
    )
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]
    assert settings.auth.key_cache_ttl == 60.0
    assert settings.sessions.ttl == 8 * 3600
    assert settings.rate_limit.per_key.rate == 10.0
    assert settings.rate_limit.per_ip.rate == 2.5
    assert load_settings({"auth": {"key_cache_ttl": 0}}).auth.key_cache_ttl == 0


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"auth": {"enabeld": False}}, "service.auth.enabeld: unknown key"),
        ({"auth": {"public_paths": ["api/health"]}}, "invalid public path 'api/health'"),
        ({"auth": {"key_cache_ttl": "soon"}}, "invalid duration 'soon'"),
        ({"rate_limit": {"per_key": {"rate": "fast", "burst": 1}}}, "invalid rate 'fast'"),
        ({"rate_limit": {"per_key": {"rate": 1, "burst": 0}}}, "service.rate_limit.per_key.burst"),
        ({"cors": {"allow_origins": ["https://a.example/"]}}, "invalid origin"),
        (
            {"cors": {"allow_origins": ["*"], "allow_credentials": True}},
            "cannot be used with allow_credentials",
        ),
        ({"trusted_proxies": ["not-an-ip"]}, "service.trusted_proxies.0: invalid proxy address"),
    ],
)
def test_settings_errors_name_the_key_and_the_fix(raw: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(raw)
    assert says in str(caught.value)
    assert "config.yaml" in str(caught.value)
