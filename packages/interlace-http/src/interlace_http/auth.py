"""Authentication and authorization of every request: API keys, browser sessions, scopes.

Deny by default. Each route registered through :class:`interlace_http.routing.Router` carries
``__interlace_route__`` (its ``scope`` and whether it is ``public``); the middleware reads it
from the matched handler:

- a path listed in ``auth.public_paths`` (exact, or a prefix ending in ``*``) or a route
  declared ``public`` needs nothing;
- a route with metadata needs its ``scope`` (``read``/``write``/``execute``/``admin``, see
  :mod:`interlace_http.apikeys` for what implies what);
- a route *without* metadata (a handler added straight to aiohttp) needs ``admin``;
- a path no route matches (404/405) needs any valid credential, so unauthenticated callers
  learn nothing about which paths exist.

Credentials, in this order: ``Authorization: Bearer <key>``, ``X-API-Key: <key>``, then the
browser session cookie ``interlace_session`` (see :mod:`interlace_http.sessions`). A request
authenticated by the cookie that changes something (any method but GET, HEAD, OPTIONS) must
also send the CSRF token in ``X-CSRF-Token``: the token is derived from the session's secret
(HMAC), handed out when the session is made and readable by the page in the ``interlace_csrf``
cookie; another site can neither read it nor compute it (double submit, bound to the session).
Requests with a key in a header need no CSRF token (browsers never add those headers by
themselves).

A verified key or session is cached in memory for ``auth.key_cache_ttl`` seconds (default 10):
within that time a request costs one SHA-256 and a dictionary lookup; after it the state store
is read again, so revoking a key (or signing out) in another process takes effect within the
TTL. Revocations in this process take effect at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from interlace_http.apikeys import digest, effective_scopes, key_store, matches, parse_token
from interlace_http.denials import error_response
from interlace_http.forwarded import client_address
from interlace_http.principal import OPEN, PRINCIPAL, Principal
from interlace_http.ratelimit import too_many_requests

if TYPE_CHECKING:
    from aiohttp.typedefs import Middleware
    from interlace.state.api_keys import ApiKey

    from interlace_http.ratelimit import RateLimiter
    from interlace_http.settings import SecuritySettings

log = logging.getLogger("interlace.http.auth")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SESSION_COOKIE = "interlace_session"
CSRF_COOKIE = "interlace_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_PREFIX = "ils_"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CACHE_LIMIT = 10_000
TOUCH_EVERY = 60.0  # seconds: how fresh `interlace apikey list`'s "last used" is (fewer writes)

HOW_TO_MAKE_A_KEY = "interlace apikey create NAME --scope read"


@dataclass(frozen=True)
class Denial:
    """Why a request is refused: an HTTP status and the JSON error's code and message."""

    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    clear_session: bool = False


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: computable only from the session's secret."""
    return hmac.new(session_token.encode(), b"interlace-csrf", hashlib.sha256).hexdigest()


def is_public_path(path: str, public_paths: list[str]) -> bool:
    """Whether ``path`` is listed (exactly, or under a prefix ending in ``*``)."""
    return any(path.startswith(p[:-1]) if p.endswith("*") else path == p for p in public_paths)


def required_scope(request: web.Request, public_paths: list[str]) -> str | None:
    """The scope a request needs, or ``None`` when it is public (see the module docstring)."""
    if is_public_path(request.path, public_paths):
        return None
    match_info = request.match_info
    if match_info.http_exception is not None:  # no route: 404 or 405 after authentication
        return "read"
    route = getattr(match_info.handler, "__interlace_route__", None)
    if route is None:
        return "admin"
    return None if route.public else str(route.scope)


def presented_key(request: web.BaseRequest) -> str | None:
    """The API key of the request's ``Authorization: Bearer`` or ``X-API-Key`` header."""
    authorization = request.headers.get("Authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    header = request.headers.get("X-API-Key", "").strip()
    return header or None


@dataclass
class _Cached:
    principal: Principal
    checked_at: float  # monotonic


class Authenticator:
    """Verifies API keys and session tokens against the state store, with a short cache.

    ``clock`` gives epoch seconds (key and session expiry); ``monotonic`` measures the cache
    TTL. Store reads run in a worker thread, so a slow state database never blocks the loop.
    """

    def __init__(
        self,
        store: object,
        settings: SecuritySettings,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = key_store(store)
        self.settings = settings
        self.ttl = settings.auth.key_cache_ttl
        self.clock = clock
        self._monotonic = monotonic
        self._cache: dict[str, _Cached] = {}

    # ------------------------------------------------------------------ requests

    async def authenticate(self, request: web.BaseRequest) -> Principal | Denial:
        """The caller of ``request`` by its key header or session cookie, else a denial."""
        token = presented_key(request)
        if token is not None:
            return await self.verify_key(token)
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            return await self.verify_session(cookie)
        return Denial(
            401,
            "unauthenticated",
            "this API needs an API key: send it as 'Authorization: Bearer <key>' or "
            f"'X-API-Key: <key>' (make one with `{HOW_TO_MAKE_A_KEY}`)",
        )

    async def verify_key(self, token: str) -> Principal | Denial:
        parsed = parse_token(token)
        if parsed is None:
            return Denial(
                401,
                "invalid_api_key",
                "the API key is malformed: a key looks like il_<12 hex digits>_<43 characters>,"
                " as `interlace apikey create` printed it",
            )
        key_id, secret = parsed
        cache_key = f"key:{key_id}:{digest(secret)}"
        cached = self._fresh(cache_key)
        if cached is not None:
            return cached
        found = await asyncio.to_thread(self.store.api_key_digest, key_id)
        if found is None or not matches(secret, found[1]):
            return Denial(
                401,
                "invalid_api_key",
                "the API key is not valid (unknown, or its secret is wrong)",
                details={"key_id": key_id},
            )
        key = found[0]
        denial = self._unusable(key, "API key")
        if denial is not None:
            return denial
        principal = Principal(
            via="key",
            scopes=effective_scopes(key.scopes),
            granted=key.scopes,
            key_id=key.id,
            name=key.name,
            expires_at=key.expires_at,
        )
        self._remember(cache_key, principal)
        if key.last_used_at is None or self.clock() - key.last_used_at >= TOUCH_EVERY:
            await self._touch(key.id)
        return principal

    async def verify_session(self, token: str) -> Principal | Denial:
        ended = Denial(
            401,
            "session_ended",
            "the session has ended (signed out, expired, or its API key was revoked): "
            "sign in again with POST /api/v1/auth/session",
            clear_session=True,
        )
        if not token.startswith(SESSION_PREFIX):
            return ended
        session_digest = digest(token)
        cache_key = f"session:{session_digest}"
        cached = self._fresh(cache_key)
        if cached is not None:
            return cached
        session = await asyncio.to_thread(self.store.api_session, session_digest)
        if session is None or session.expires_at <= self.clock():
            return ended
        found = await asyncio.to_thread(self.store.api_key_digest, session.key_id)
        if found is None or self._unusable(found[0], "API key") is not None:
            return ended
        key = found[0]
        ends = [t for t in (session.expires_at, key.expires_at) if t is not None]
        principal = Principal(
            via="session",
            scopes=effective_scopes(key.scopes),
            granted=key.scopes,
            key_id=key.id,
            name=key.name,
            session=session_digest,
            expires_at=min(ends),
        )
        self._remember(cache_key, principal)
        return principal

    # ------------------------------------------------------------------ sessions and cache

    def forget_session(self, session_digest: str) -> None:
        """Drop a signed-out session from this process's cache at once."""
        self._cache.pop(f"session:{session_digest}", None)

    def forget_key(self, key_id: str) -> None:
        """Drop a key (and its sessions) from this process's cache at once (after a revoke)."""
        for name in [n for n, c in self._cache.items() if c.principal.key_id == key_id]:
            del self._cache[name]

    def _fresh(self, cache_key: str) -> Principal | None:
        cached = self._cache.get(cache_key)
        if cached is None:
            return None
        expires = cached.principal.expires_at
        if self._monotonic() - cached.checked_at >= self.ttl or (
            expires is not None and expires <= self.clock()
        ):
            del self._cache[cache_key]
            return None
        return cached.principal

    def _remember(self, cache_key: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        if len(self._cache) >= _CACHE_LIMIT:
            now = self._monotonic()
            for name in [n for n, c in self._cache.items() if now - c.checked_at >= self.ttl]:
                del self._cache[name]
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
        self._cache[cache_key] = _Cached(principal, self._monotonic())

    def _unusable(self, key: ApiKey, what: str) -> Denial | None:
        status = key.status(self.clock())
        if status == "active":
            return None
        return Denial(
            401,
            f"api_key_{status}",
            f"the {what} '{key.name}' ({key.id}) is {status}: ask for a new one "
            f"(`{HOW_TO_MAKE_A_KEY}`)",
            details={"key_id": key.id},
        )

    async def _touch(self, key_id: str) -> None:
        # bookkeeping for `interlace apikey list`: at most once per key, cache period and minute
        try:
            await asyncio.to_thread(self.store.touch_api_key, key_id, self.clock())
        except Exception as exc:  # a busy state store must not refuse a valid key
            log.warning("could not record the use of API key %s: %s", key_id, exc)


def deny(request: web.BaseRequest, denial: Denial) -> web.Response:
    """The JSON error response of a denial."""
    headers = {"WWW-Authenticate": 'Bearer realm="interlace"'} if denial.status == 401 else {}
    response = error_response(
        request, denial.status, denial.code, denial.message, details=denial.details, headers=headers
    )
    if denial.clear_session:
        response.del_cookie(SESSION_COOKIE, path="/")
        response.del_cookie(CSRF_COOKIE, path="/")
    return response


def check_csrf(request: web.BaseRequest) -> Denial | None:
    """For a session-authenticated request that changes something: the CSRF token check."""
    if request.method in SAFE_METHODS:
        return None
    sent = request.headers.get(CSRF_HEADER, "")
    expected = csrf_token(request.cookies.get(SESSION_COOKIE, ""))
    if sent and hmac.compare_digest(sent, expected):
        return None
    return Denial(
        403,
        "csrf_failed",
        f"a {request.method} with the session cookie must send the CSRF token in the "
        f"{CSRF_HEADER} header (the value of the '{CSRF_COOKIE}' cookie)",
    )


def auth_middleware(authenticator: Authenticator, limiter: RateLimiter | None = None) -> Middleware:
    """The middleware: every request passes it (see the module docstring for the rules).

    A failed authentication also counts against the client address's rate limit (when a
    ``limiter`` is given), so guessing keys soon gets ``429``.
    """
    settings = authenticator.settings
    public_paths = settings.auth.public_paths
    trusted = settings.trusted_proxies

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not settings.auth.enabled:
            request[PRINCIPAL] = OPEN
            return await handler(request)
        needed = required_scope(request, public_paths)
        if needed is None:
            return await handler(request)
        outcome = await authenticator.authenticate(request)
        if isinstance(outcome, Denial):
            if limiter is not None:
                wait = limiter.hit("ip", client_address(request, trusted))
                if wait > 0:
                    return too_many_requests(request, limiter, "ip", wait)
            return deny(request, outcome)
        if not outcome.allows(needed):
            return deny(request, _forbidden(request, outcome, needed))
        if outcome.via == "session":
            refused = check_csrf(request)
            if refused is not None:
                return deny(request, refused)
        request[PRINCIPAL] = outcome
        return await handler(request)

    return authenticate


def _forbidden(request: web.BaseRequest, principal: Principal, needed: str) -> Denial:
    granted = ", ".join(principal.granted) or "none"
    return Denial(
        403,
        "forbidden",
        f"{request.method} {request.path} needs the '{needed}' scope; the API key "
        f"'{principal.name}' ({principal.key_id}) has: {granted}",
        details={"required_scope": needed, "granted_scopes": list(principal.granted)},
    )


@dataclass(frozen=True)
class StartupNotice:
    """What a server should log when it starts (``level``: ``info`` or ``warning``)."""

    level: str
    message: str


def startup_notice(
    settings: SecuritySettings, store: object, *, now: float | None = None
) -> StartupNotice | None:
    """Call when a server starts: a loud warning when authentication is off, and how to make
    a key when none exists yet (the server then refuses every non-public request)."""
    if not settings.auth.enabled:
        return StartupNotice(
            "warning",
            "AUTHENTICATION IS OFF (auth.enabled: false): anyone who can reach this server can "
            "read, change and run everything. Use this only for local development on a "
            "loopback address; remove the setting to turn authentication back on.",
        )
    keys = key_store(store)
    if keys.count_usable_api_keys(time.time() if now is None else now) == 0:
        public = ", ".join(settings.auth.public_paths) or "none"
        return StartupNotice(
            "warning",
            "no API key exists yet, so every request except the public paths "
            f"({public}) is refused with 401. Make one with:\n"
            "    interlace apikey create admin --scope admin\n"
            "and send it as 'Authorization: Bearer <key>' (or sign in to the web UI with it).",
        )
    return None
