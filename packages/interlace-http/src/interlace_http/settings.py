"""Security settings of an Interlace HTTP server: authentication, sessions, rate limits, CORS.

They are the ``service:`` section of ``config.yaml`` (``interlace serve``), and the same model
serves the standalone stream ingestion server. Every key is optional; unknown keys are errors::

    service:
      auth:
        enabled: true                 # default; `false` opens the server (local development only)
        public_paths: [/api/v1/health, /assets/*]   # exact paths, or a prefix ending in `*`
        key_cache_ttl: 10s            # how long a verified key is trusted without a lookup
      sessions:
        ttl: 12h                      # browser sessions (POST /api/v1/auth/session)
        secure_cookies: auto          # `auto`: Secure when the request came over https
      rate_limit:
        enabled: true
        per_key: {rate: 20/s, burst: 100}   # authenticated requests, per API key
        per_ip: {rate: 10/s, burst: 50}     # everything else (public paths, failed sign-ins)
      cors:
        allow_origins: [https://app.example.com]
        allow_credentials: true
      trusted_proxies: [10.0.0.0/8]   # whose X-Forwarded-For / X-Forwarded-Proto to believe

Durations are seconds (a number) or strings like ``30s``, ``15m``, ``12h``; rates are requests
per second (a number) or ``N/s``, ``N/min``, ``N/h``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated, Any, Literal, TypeVar

from interlace.errors import ConfigError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

_RATE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*", re.I)
_PER = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
_ORIGIN = re.compile(r"https?://[^/\s*]+")


def _seconds(value: Any) -> Any:
    """A duration: a number of seconds (zero allowed) or a string such as ``30s``."""
    if isinstance(value, str):
        from interlace.durations import parse_duration

        stripped = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", stripped):
            return float(stripped)
        return parse_duration(stripped).total_seconds()  # ValueError names the forms
    return value


def _per_second(value: Any) -> Any:
    """A rate: requests per second (a number) or ``N/s``, ``N/min``, ``N/h``."""
    if isinstance(value, str):
        match = _RATE.fullmatch(value)
        if not match:
            raise ValueError(
                f"invalid rate {value!r}: use requests per second (e.g. 20) or '100/min', "
                "'20/s', '1000/h'"
            )
        return float(match.group(1)) / _PER[match.group(2).lower()]
    return value


def _network(value: Any) -> Any:
    """An address (``10.0.0.1``) or a CIDR block (``10.0.0.0/8``)."""
    if isinstance(value, str):
        from ipaddress import ip_network

        try:
            return ip_network(value.strip(), strict=False)
        except ValueError:
            raise ValueError(
                f"invalid proxy address {value!r}: write an address (10.0.0.1) or a CIDR "
                "block (10.0.0.0/8)"
            ) from None
    return value


Seconds = Annotated[float, BeforeValidator(_seconds), Field(ge=0)]
PerSecond = Annotated[float, BeforeValidator(_per_second), Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthSettings(_Strict):
    """Who may call the API: every route needs an API key (or a session) unless it is public.

    ``public_paths`` are exact paths or prefixes ending in ``*`` (``/assets/*``); routes may
    also declare themselves public. ``key_cache_ttl``: a verified key (or session) is trusted
    for this long without reading the state store again, so a revocation made by another
    process takes effect within it (``0``: every request reads the store).
    """

    model_config = ConfigDict(use_attribute_docstrings=True)

    enabled: bool = True
    """Require an API key (or a browser session) on every route that is not public."""
    public_paths: list[str] = Field(default_factory=lambda: ["/api/v1/health"])
    """Paths anyone may call: exact paths, or prefixes ending in `*` (`/assets/*`)."""
    key_cache_ttl: Seconds = 10.0
    """Seconds a verified key or session is trusted without reading the state store again (a
    revocation elsewhere takes effect within it; `0`: every request reads the store)."""

    @model_validator(mode="after")
    def _paths(self) -> AuthSettings:
        for path in self.public_paths:
            if not path.startswith("/") or "*" in path[:-1]:
                raise ValueError(
                    f"invalid public path {path!r}: write an absolute path ('/api/v1/health') "
                    "or a prefix ending in '*' ('/assets/*')"
                )
        return self


class SessionSettings(_Strict):
    """Browser sessions: an API key exchanged for an HttpOnly cookie."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    ttl: Seconds = Field(default=12 * 3600.0, gt=0)
    """How long a browser session lasts after sign-in (seconds, or a duration such as `12h`)."""
    secure_cookies: Literal["auto", "always"] = "auto"
    """Mark session cookies `Secure`: `auto` when the sign-in came over HTTPS (directly or through a
    trusted proxy), `always` every time."""


class BucketSettings(_Strict):
    """A token bucket: ``burst`` requests at once, refilled at ``rate`` per second."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    rate: PerSecond
    """Requests per second the bucket refills (a number, or `20/s`, `1000/min`)."""
    burst: int = Field(ge=1)
    """Requests allowed at once when the bucket is full."""


class RateLimitSettings(_Strict):
    model_config = ConfigDict(use_attribute_docstrings=True)

    enabled: bool = True
    """Refuse requests over the limits with `429` and a `Retry-After` header."""
    per_key: BucketSettings = Field(default_factory=lambda: BucketSettings(rate=20, burst=100))
    """The limit of each API key (or session)."""
    per_ip: BucketSettings = Field(default_factory=lambda: BucketSettings(rate=10, burst=50))
    """The limit of each client address, for requests without an API key or session."""


class CorsSettings(_Strict):
    """Which web pages on other origins may call the API from a browser (none by default).

    ``allow_origins`` are origins (``https://app.example.com``, no path) or ``"*"`` for any;
    ``"*"`` cannot be combined with ``allow_credentials`` (browsers refuse it).
    """

    model_config = ConfigDict(use_attribute_docstrings=True)

    allow_origins: list[str] = Field(default_factory=list)
    """Origins whose pages may call the API (`https://app.example.com`, no path), or `"*"` for
    any."""
    allow_credentials: bool = False
    """Let those pages send cookies and `Authorization` (not with `"*"`)."""
    allow_methods: list[str] = Field(
        default_factory=lambda: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    )
    """HTTP methods those pages may use."""
    allow_headers: list[str] = Field(
        default_factory=lambda: [
            "Authorization",
            "Content-Type",
            "X-API-Key",
            "X-CSRF-Token",
            "X-Request-ID",
            "Last-Event-ID",
            "Idempotency-Key",
        ]
    )
    """Request headers those pages may send."""
    expose_headers: list[str] = Field(default_factory=lambda: ["X-Request-ID", "Retry-After"])
    """Response headers those pages may read."""
    max_age: int = Field(default=600, ge=0)
    """Seconds a browser may cache the answer to a preflight request."""

    @model_validator(mode="after")
    def _origins(self) -> CorsSettings:
        for origin in self.allow_origins:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"invalid origin {origin!r}: write scheme://host[:port] without a path or "
                    "a trailing '/' (e.g. 'https://app.example.com'), or '*' for any origin"
                )
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError(
                "allow_origins '*' cannot be used with allow_credentials: true (browsers "
                "refuse it); list the origins that may send cookies"
            )
        return self


class SecuritySettings(_Strict):
    """Everything the security middleware reads: API keys, browser sessions, rate limits, CORS
    and trusted proxies (the module docstring shows the YAML)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    auth: AuthSettings = Field(default_factory=AuthSettings)
    """Who may call the API: API keys, public paths."""
    sessions: SessionSettings = Field(default_factory=SessionSettings)
    """Browser sessions: an API key exchanged for a cookie."""
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    """Requests per second per API key and per client address."""
    cors: CorsSettings = Field(default_factory=CorsSettings)
    """Which web pages on other origins may call the API."""
    trusted_proxies: list[Annotated[IPv4Network | IPv6Network, BeforeValidator(_network)]] = Field(
        default_factory=list
    )
    """Reverse proxies (addresses or networks, `10.0.0.0/8`) whose `X-Forwarded-For` names the
    client."""


_M = TypeVar("_M", bound=BaseModel)


def load_settings(
    raw: Mapping[str, Any] | None,
    section: str = "service",
    model: type[_M] = SecuritySettings,  # type: ignore[assignment]
) -> _M:
    """Validate the settings read from a config section; errors name the key path and fix.

    ``model`` may be a subclass that adds a server's own keys (host, port, ...).

    >>> load_settings({"auth": {"key_cache_ttl": "30s"}}).auth.key_cache_ttl
    30.0
    """
    try:
        return model.model_validate(dict(raw or {}))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join([section, *(str(p) for p in error["loc"])])
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key (check its spelling; see interlace_http.settings)"
            problems.append(f"{where}: {message}")
        raise ConfigError(
            "; ".join(problems), hint=f"fix the '{section}:' section of config.yaml"
        ) from None
