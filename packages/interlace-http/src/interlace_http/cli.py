"""`interlace apikey create|list|revoke`: the API keys of a project's servers.

Keys live in the project's state store (every server using it accepts them). ``create`` prints
the key once; the store keeps only a digest of its secret, so a lost key cannot be shown again:
revoke it and create another. Added to ``interlace`` through the ``interlace.hooks`` entry
point (:mod:`interlace_http.hooks`); light on purpose (no aiohttp import).

Example::

    interlace apikey create ci-deploy --scope execute --expires-in 90d
    interlace apikey list
    interlace apikey revoke ci-deploy
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from collections.abc import Iterator

    from interlace.state.api_keys import ApiKey, ApiKeysMixin

_SCOPE_HELP = (
    "read, write, execute or admin (repeat or comma-separate; admin implies all, write and "
    "execute imply read)"
)


def _fail(message: str) -> NoReturn:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


class _Store:
    """``with _Store(ctx, project, env) as store:`` the project's state store as a key store;
    an Interlace error becomes a message for people and exit code 1."""

    def __init__(self, ctx: click.Context, project: Path | None, env: str | None) -> None:
        parent = ctx.find_root().obj  # the `interlace` group's project and env, if any
        self.project = project or getattr(parent, "project_path", None) or Path.cwd()
        self.env = env or getattr(parent, "env", None)
        self._store: Any = None

    def __enter__(self) -> ApiKeysMixin:
        from interlace.errors import InterlaceError
        from interlace.opening import open_state
        from interlace.project import load_project

        from interlace_http.apikeys import key_store

        try:
            self._store = open_state(load_project(self.project, env=self.env))
            return key_store(self._store)
        except InterlaceError as exc:
            self.close()
            _fail(str(exc))

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()
        from interlace.errors import InterlaceError

        if isinstance(exc, InterlaceError):
            _fail(str(exc))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _when(at: float | None, empty: str = "-") -> str:
    if at is None:
        return empty
    return dt.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M")


def _scopes(values: tuple[str, ...]) -> list[str]:
    return [part for value in values for part in value.split(",")]


def _rows(keys: list[ApiKey], now: float) -> Iterator[dict[str, str]]:
    for key in keys:
        yield {
            "id": key.id,
            "name": key.name,
            "scopes": ",".join(key.scopes),
            "created": _when(key.created_at),
            "last used": _when(key.last_used_at, "never"),
            "expires": _when(key.expires_at, "never"),
            "status": key.status(now),
        }


project_option = click.option(
    "--project",
    "-p",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project folder (default: the current folder).",
)
env_option = click.option(
    "--env", "-e", default=None, help="Environment (default: $INTERLACE_ENV or dev)."
)


@click.group()
def apikey() -> None:
    """API keys for `interlace serve` and the stream server (hashed at rest, with scopes)."""


@apikey.command()
@click.argument("name")
@click.option("--scope", "-s", "scopes", multiple=True, default=("read",), help=_SCOPE_HELP)
@click.option("--expires-in", default=None, help="Lifetime, e.g. 90d or 12h (default: never).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the key (for scripts).")
@project_option
@env_option
@click.pass_context
def create(
    ctx: click.Context,
    name: str,
    scopes: tuple[str, ...],
    expires_in: str | None,
    quiet: bool,
    project: Path | None,
    env: str | None,
) -> None:
    """Create an API key NAME and print it (the only time it is shown)."""
    from interlace.durations import parse_duration
    from interlace.errors import InterlaceError

    from interlace_http.apikeys import create_api_key, effective_scopes

    lifetime = None
    if expires_in is not None:
        try:
            lifetime = parse_duration(expires_in).total_seconds()
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--expires-in") from None
    with _Store(ctx, project, env) as store:
        try:
            created = create_api_key(store, name, _scopes(scopes), expires_in=lifetime)
        except InterlaceError as exc:
            _fail(str(exc))
    if quiet:
        click.echo(created.token)
        return
    key = created.key
    implied = sorted(effective_scopes(key.scopes) - set(key.scopes))
    also = f" (also allows: {', '.join(implied)})" if implied else ""
    click.echo(f"Created API key '{key.name}' (id {key.id}), scopes: {', '.join(key.scopes)}{also}")
    click.echo(f"Expires: {_when(key.expires_at, 'never')}")
    click.echo("")
    click.echo(f"    {created.token}")
    click.echo("")
    click.echo("This is the only time the key is shown: store it now (a secret manager, a CI")
    click.echo("variable). Send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.")


@apikey.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include revoked keys.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per key).")
@project_option
@env_option
@click.pass_context
def list_(
    ctx: click.Context, show_all: bool, as_json: bool, project: Path | None, env: str | None
) -> None:
    """List API keys (never their secrets)."""
    with _Store(ctx, project, env) as store:
        keys = store.api_keys(include_revoked=show_all)
    now = time.time()
    if as_json:
        click.echo(json.dumps([{**k.__dict__, "status": k.status(now)} for k in keys], indent=2))
        return
    if not keys:
        click.echo("no API keys" + ("" if show_all else " (revoked ones: --all)"))
        click.echo("make one with: interlace apikey create NAME --scope read")
        return
    rows = list(_rows(keys, now))
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in rows[0]}
    click.echo("  ".join(c.upper().ljust(w) for c, w in widths.items()).rstrip())
    for row in rows:
        click.echo("  ".join(row[c].ljust(w) for c, w in widths.items()).rstrip())


@apikey.command()
@click.argument("key")
@project_option
@env_option
@click.pass_context
def revoke(ctx: click.Context, key: str, project: Path | None, env: str | None) -> None:
    """Revoke the API key KEY (its id, or the name of an active key); its sessions end too."""
    at = time.time()
    with _Store(ctx, project, env) as store:
        found = store.revoke_api_key(key, at=at)
    if found is None:
        _fail(f"no API key with id or name '{key}' (see `interlace apikey list --all`)")
    if found.revoked_at != at:
        click.echo(
            f"API key '{found.name}' (id {found.id}) was already revoked at "
            f"{_when(found.revoked_at)}."
        )
        return
    click.echo(
        f"Revoked API key '{found.name}' (id {found.id}). Running servers refuse it within "
        "their key cache TTL (service.auth.key_cache_ttl, 10 s by default); its browser "
        "sessions end with it."
    )
