"""Rate limits: a token bucket per API key, and per client address for everything else.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second; a request
takes one. An empty bucket answers ``429 Too Many Requests`` with ``Retry-After`` (whole
seconds until a token is back) and the JSON error. Authenticated requests count against their
key (one bucket per key, whichever address they come from); unauthenticated ones (public paths,
sign-ins, failed authentications) against their address (behind ``trusted_proxies``, the
address ``X-Forwarded-For`` names).

Buckets live in the memory of one process: with several server processes each applies the
limit on its own (a key may do ``processes x rate``).

Example::

    limiter = RateLimiter(settings.rate_limit)
    wait = limiter.hit("key", "3f9a0c1b2d4e")     # 0.0, or seconds until a retry can pass
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from aiohttp import web

from interlace_http.denials import error_response
from interlace_http.forwarded import client_address
from interlace_http.principal import PRINCIPAL

if TYPE_CHECKING:
    from collections.abc import Sequence
    from ipaddress import IPv4Network, IPv6Network

    from aiohttp.typedefs import Middleware

    from interlace_http.settings import BucketSettings, RateLimitSettings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Kind = Literal["key", "ip"]


@dataclass
class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second (a pure value: time is passed in)."""

    rate: float
    burst: int
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, burst: int, now: float) -> TokenBucket:
        return cls(rate=rate, burst=burst, tokens=float(burst), updated=now)

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def take(self, now: float) -> float:
        """Take a token: ``0.0`` when there was one, else the seconds until there is one
        (nothing is taken then)."""
        self.refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def is_full(self, now: float) -> bool:
        """Whether it would be full at ``now`` (then forgetting it changes nothing)."""
        return self.tokens + max(0.0, now - self.updated) * self.rate >= self.burst


class RateLimiter:
    """The buckets of one process, by ``(kind, identity)``; ``clock`` is monotonic seconds.

    Memory stays bounded: buckets that have refilled completely are forgotten (a new full
    bucket is the same thing), and beyond ``max_buckets`` the least recently used go.
    """

    def __init__(
        self,
        settings: RateLimitSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = 100_000,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._max = max_buckets
        self._buckets: dict[tuple[Kind, str], TokenBucket] = {}
        self._hits = 0

    def limits(self, kind: Kind) -> BucketSettings:
        return self.settings.per_key if kind == "key" else self.settings.per_ip

    def hit(self, kind: Kind, identity: str) -> float:
        """Count one request: ``0.0`` when it may pass, else seconds to wait."""
        now = self._clock()
        limits = self.limits(kind)
        bucket = self._buckets.pop((kind, identity), None)
        if bucket is None:
            bucket = TokenBucket.full(limits.rate, limits.burst, now)
        self._buckets[(kind, identity)] = bucket  # most recently used last
        wait = bucket.take(now)
        self._hits += 1
        if self._hits % 1024 == 0:
            self._forget_full(now)
        while len(self._buckets) > self._max:  # least recently used first (O(1) each)
            del self._buckets[next(iter(self._buckets))]
        return wait

    def __len__(self) -> int:
        return len(self._buckets)

    def _forget_full(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.is_full(now)]:
            del self._buckets[key]


def too_many_requests(
    request: web.BaseRequest, limiter: RateLimiter, kind: Kind, wait: float
) -> web.Response:
    """The 429 answer: ``Retry-After`` in whole seconds (at least 1) and the JSON error."""
    limits = limiter.limits(kind)
    whom = "this API key" if kind == "key" else "this client address"
    retry_after = max(1, math.ceil(wait))
    return error_response(
        request,
        429,
        "rate_limited",
        f"too many requests for {whom} (limit {limits.rate:g}/s, burst {limits.burst}); "
        f"retry in {retry_after} s",
        details={
            "limit": kind,
            "rate": limits.rate,
            "burst": limits.burst,
            "retry_after": retry_after,
        },
        headers={"Retry-After": str(retry_after)},
    )


def rate_limit_middleware(
    limiter: RateLimiter, trusted_proxies: Sequence[IPv4Network | IPv6Network] = ()
) -> Middleware:
    """Middleware (inside the auth middleware): per key when the request is authenticated,
    per client address otherwise."""

    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        principal = request.get(PRINCIPAL)
        if principal is not None and principal.key_id is not None:
            kind: Kind = "key"
            identity = principal.key_id
        else:
            kind, identity = "ip", client_address(request, trusted_proxies)
        wait = limiter.hit(kind, identity)
        if wait > 0:
            return too_many_requests(request, limiter, kind, wait)
        return await handler(request)

    return rate_limit
