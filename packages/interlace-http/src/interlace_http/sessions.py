"""Browser sessions: an API key exchanged for a cookie, so the web UI never keeps the key.

``POST /api/v1/auth/session`` with ``{"key": "il_..."}`` (or the key in ``Authorization`` /
``X-API-Key``) answers ``201`` and sets two cookies (``SameSite=Strict``, ``Path=/``, and
``Secure`` when the request came over https):

- ``interlace_session``: the session token, ``HttpOnly`` (page scripts cannot read it);
- ``interlace_csrf``: the CSRF token, readable by the page, also in the response body.

From then on the browser's requests (including ``EventSource`` for ``/api/v1/events``, which
cannot send headers) are authenticated by the cookie with the key's scopes. A request that
changes something (POST, PUT, PATCH, DELETE) must echo the CSRF token in ``X-CSRF-Token``.
``GET`` tells who the caller is; ``DELETE`` signs out (the session row is deleted; other server
processes drop it within ``auth.key_cache_ttl``). Sessions last ``sessions.ttl`` (12 h by
default), never longer than their key; revoking the key ends them.

Sessions are rows of the state store (only a digest of the token), so any server process
sharing it accepts them. Mount the routes beside the API::

    session_router().add_to(app)          # needs install_security(app, ...) first
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from interlace_http.apikeys import digest
from interlace_http.auth import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    SESSION_PREFIX,
    Denial,
    csrf_token,
    deny,
    presented_key,
)
from interlace_http.errors import HTTPError
from interlace_http.forwarded import is_https
from interlace_http.principal import PRINCIPAL, Principal
from interlace_http.routing import Router
from interlace_http.security import SECURITY, Security


class SessionRequest(BaseModel):
    """The API key to sign in with (or send it in the ``Authorization`` header instead)."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(default=None, description="An API key: il_<id>_<secret>")


class SessionInfo(BaseModel):
    """Who the caller is, and (when a session was just made) its CSRF token."""

    via: Literal["key", "session", "open"] = Field(
        description="How the request was authenticated (open: authentication is off)"
    )
    key_id: str | None = None
    name: str | None = Field(default=None, description="The API key's name")
    scopes: list[str] = Field(description="The scopes the key was made with")
    effective_scopes: list[str] = Field(description="Every scope those allow")
    expires_at: float | None = Field(default=None, description="Epoch seconds, if it ends")
    csrf_token: str | None = Field(
        default=None,
        description=f"Send it as {CSRF_HEADER} on POST, PUT, PATCH and DELETE (sessions only)",
    )


def _info(principal: Principal, csrf: str | None = None) -> SessionInfo:
    return SessionInfo(
        via=principal.via,
        key_id=principal.key_id,
        name=principal.name,
        scopes=list(principal.granted),
        effective_scopes=sorted(principal.scopes),
        expires_at=principal.expires_at,
        csrf_token=csrf,
    )


def _security(request: web.Request) -> Security:
    security = request.config_dict.get(SECURITY)
    if security is None:
        raise RuntimeError("the session routes need install_security(app, ...) on their app")
    return security


def _json(model: BaseModel, status: int) -> web.Response:
    return web.Response(
        text=model.model_dump_json(), status=status, content_type="application/json"
    )


def session_router(prefix: str = "/api/v1") -> Router:
    """The routes ``{prefix}/auth/session`` (POST public; GET and DELETE with any scope)."""
    router = Router(prefix, tags=["auth"])

    @router.post(
        "/auth/session",
        public=True,
        body=SessionRequest,
        response=SessionInfo,
        status=201,
        errors=(401,),
    )
    async def create_session(request: web.Request, body: SessionRequest) -> web.StreamResponse:
        """Sign in: exchange an API key for a session cookie (browsers).

        Sets the HttpOnly session cookie and the readable CSRF cookie; the body repeats the
        CSRF token, to send as X-CSRF-Token on requests that change something.
        """
        security = _security(request)
        token = body.key or presented_key(request)
        if not token:
            return deny(
                request,
                Denial(
                    401,
                    "unauthenticated",
                    'send the API key as {"key": "il_..."} or in the Authorization header',
                ),
            )
        outcome = await security.authenticator.verify_key(token)
        if isinstance(outcome, Denial):
            return deny(request, outcome)
        now = security.authenticator.clock()
        ends = now + security.settings.sessions.ttl
        if outcome.expires_at is not None:
            ends = min(ends, outcome.expires_at)
        session = SESSION_PREFIX + secrets.token_urlsafe(32)
        assert outcome.key_id is not None  # a key's principal has its id
        await asyncio.to_thread(
            security.authenticator.store.add_api_session, digest(session), outcome.key_id, now, ends
        )
        csrf = csrf_token(session)
        principal = Principal(
            via="session",
            scopes=outcome.scopes,
            granted=outcome.granted,
            key_id=outcome.key_id,
            name=outcome.name,
            expires_at=ends,
        )
        response = _json(_info(principal, csrf), 201)
        cookie: dict[str, Any] = {
            "path": "/",
            "max_age": max(1, int(ends - now)),
            "samesite": "Strict",
            "secure": security.settings.sessions.secure_cookies == "always"
            or is_https(request, security.settings.trusted_proxies),
        }
        response.set_cookie(SESSION_COOKIE, session, httponly=True, **cookie)
        response.set_cookie(CSRF_COOKIE, csrf, httponly=False, **cookie)
        response.headers["Cache-Control"] = "no-store"
        return response

    @router.get("/auth/session", scope="read", response=SessionInfo)
    async def current_session(request: web.Request) -> SessionInfo:
        """Who is calling: the API key (by header or session cookie) and its scopes."""
        principal = request.get(PRINCIPAL)
        if principal is None:  # only when the path was listed as public
            raise HTTPError(401, "no credentials: this path is public here", code="unauthenticated")
        return _info(principal)

    @router.delete("/auth/session", scope="read", status=204)
    async def end_session(request: web.Request) -> web.StreamResponse:
        """Sign out: end the session of the cookie and clear the cookies.

        Needs the X-CSRF-Token header like every change made with a session.
        """
        security = _security(request)
        principal = request.get(PRINCIPAL)
        if principal is not None and principal.session is not None:
            await asyncio.to_thread(
                security.authenticator.store.remove_api_session, principal.session
            )
            security.authenticator.forget_session(principal.session)
        response = web.Response(status=204)
        response.del_cookie(SESSION_COOKIE, path="/")
        response.del_cookie(CSRF_COOKIE, path="/")
        return response

    return router


# For the OpenAPI document (``create_http_app(..., security_schemes=SECURITY_SCHEMES)``).
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`interlace apikey create`): Authorization: Bearer il_...",
    },
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": f"POST /api/v1/auth/session; changes also need the {CSRF_HEADER} header",
    },
}
