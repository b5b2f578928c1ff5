"""Rate limits: token buckets (pure, on an injected clock) and 429s from a real server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from interlace_http.ratelimit import RateLimiter, TokenBucket
from interlace_http.settings import BucketSettings, RateLimitSettings

if TYPE_CHECKING:
    from conftest import Harness


def test_a_bucket_allows_a_burst_then_one_request_per_refill() -> None:
    bucket = TokenBucket.full(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)  # one token comes back in 1/rate seconds
    assert bucket.take(0.25) == pytest.approx(0.25)
    assert bucket.take(0.5) == 0.0
    assert bucket.take(0.5) == pytest.approx(0.5)


def test_a_bucket_never_holds_more_than_its_burst() -> None:
    bucket = TokenBucket.full(rate=10.0, burst=2, now=0.0)
    bucket.take(0.0)
    bucket.refill(1_000.0)
    assert bucket.tokens == 2.0
    assert [bucket.take(1_000.0) for _ in range(3)][-1] == pytest.approx(0.1)


def test_a_refused_request_takes_no_token() -> None:
    bucket = TokenBucket.full(rate=1.0, burst=1, now=0.0)
    bucket.take(0.0)
    for _ in range(10):
        assert bucket.take(0.5) == pytest.approx(0.5)
    assert bucket.take(1.0) == 0.0


def test_a_clock_going_backwards_refills_nothing() -> None:
    bucket = TokenBucket.full(rate=1.0, burst=1, now=10.0)
    bucket.take(10.0)
    assert bucket.take(5.0) > 0
    assert bucket.tokens == 0.0


def test_the_limiter_keeps_one_bucket_per_key_and_per_address() -> None:
    now = [0.0]
    limiter = RateLimiter(
        RateLimitSettings(
            per_key=BucketSettings(rate=1, burst=2), per_ip=BucketSettings(rate=1, burst=1)
        ),
        clock=lambda: now[0],
    )
    assert [limiter.hit("key", "a") for _ in range(3)] == [0.0, 0.0, 1.0]
    assert limiter.hit("key", "b") == 0.0  # another key has its own bucket
    assert limiter.hit("ip", "a") == 0.0  # an address named like a key too
    assert limiter.hit("ip", "a") == 1.0
    now[0] = 1.0
    assert limiter.hit("key", "a") == 0.0


def test_the_limiter_forgets_full_buckets_and_stays_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(
        RateLimitSettings(per_ip=BucketSettings(rate=1, burst=5)),
        clock=lambda: now[0],
        max_buckets=100,
    )
    for n in range(1_000):
        limiter.hit("ip", f"10.0.{n // 256}.{n % 256}")
    assert len(limiter) <= 100
    limiter.hit("ip", "busy")
    limiter.hit("ip", "busy")
    now[0] = 10.0  # every bucket has refilled: forgetting them changes nothing
    for n in range(1_024):
        limiter.hit("ip", f"new-{n % 3}")
    assert len(limiter) <= 3


def test_a_key_over_its_burst_gets_429_with_retry_after(h: Harness) -> None:
    limited = h.settings(rate_limit={"per_key": {"rate": "30/min", "burst": 3}})
    token = h.keys["read"]

    async def scenario() -> None:
        async with h.client(h.app(limited)) as client:
            for _ in range(3):
                assert (await client.get("/api/v1/models", headers=h.bearer(token))).status == 200
            reply = await client.get("/api/v1/models", headers=h.bearer(token))
            body = await reply.json()
            assert reply.status == 429, body
            assert reply.headers["Retry-After"] == "2"  # 1 token at 0.5/s
            assert body["error"]["code"] == "rate_limited"
            assert body["error"]["request_id"] == reply.headers["X-Request-ID"]
            assert body["error"]["details"]["limit"] == "key"
            assert "this API key" in body["error"]["message"]
            # another key is not affected
            other = await client.get("/api/v1/models", headers=h.bearer(h.keys["admin"]))
            assert other.status == 200
            h.clock.advance(2)
            assert (await client.get("/api/v1/models", headers=h.bearer(token))).status == 200

    h.run(scenario)


def test_unauthenticated_requests_are_limited_per_address(h: Harness) -> None:
    limited = h.settings(
        rate_limit={"per_ip": {"rate": 1, "burst": 2}},
        trusted_proxies=["127.0.0.1/32"],  # so tests can be two clients
    )

    def client_ip(address: str) -> dict[str, str]:
        return {"X-Forwarded-For": address}

    async def scenario() -> None:
        async with h.client(h.app(limited)) as client:
            for _ in range(2):
                reply = await client.get("/api/v1/health", headers=client_ip("203.0.113.5"))
                assert reply.status == 200
            reply = await client.get("/api/v1/health", headers=client_ip("203.0.113.5"))
            assert reply.status == 429
            assert reply.headers["Retry-After"] == "1"
            assert (await reply.json())["error"]["details"]["limit"] == "ip"
            other = await client.get("/api/v1/health", headers=client_ip("198.51.100.7"))
            assert other.status == 200

    h.run(scenario)


def test_failed_authentications_count_against_the_address(h: Harness) -> None:
    limited = h.settings(rate_limit={"per_ip": {"rate": 1, "burst": 3}})
    guess = "il_000000000000_" + "B" * 43

    async def scenario() -> None:
        async with h.client(h.app(limited)) as client:
            statuses = [
                (await client.get("/api/v1/models", headers=h.bearer(guess))).status
                for _ in range(4)
            ]
            assert statuses == [401, 401, 401, 429]
            # a valid key is limited by its own bucket, not the address's
            assert (
                await client.get("/api/v1/models", headers=h.bearer(h.keys["read"]))
            ).status == 200

    h.run(scenario)


def test_an_untrusted_peer_cannot_choose_its_bucket_with_x_forwarded_for(h: Harness) -> None:
    limited = h.settings(rate_limit={"per_ip": {"rate": 1, "burst": 1}})

    async def scenario() -> None:
        async with h.client(h.app(limited)) as client:
            first = await client.get("/api/v1/health", headers={"X-Forwarded-For": "1.1.1.1"})
            assert first.status == 200
            second = await client.get("/api/v1/health", headers={"X-Forwarded-For": "2.2.2.2"})
            assert second.status == 429

    h.run(scenario)


def test_rate_limits_can_be_turned_off(h: Harness) -> None:
    off = h.settings(rate_limit={"enabled": False, "per_ip": {"rate": 1, "burst": 1}})

    async def scenario() -> None:
        async with h.client(h.app(off)) as client:
            for _ in range(5):
                assert (await client.get("/api/v1/health")).status == 200

    h.run(scenario)
