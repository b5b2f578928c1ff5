"""The stream commands: ``interlace stream serve|run|list|show|publish|quarantine`` (through
the ``interlace.hooks`` entry point) and the same as ``interlace-stream ...`` for a standalone
install without the Interlace CLI.

Example::

    interlace-stream serve --project . --port 8765
    interlace stream publish orders '{"id": 1, "amount": 9.5}' --key order-1
    interlace stream list
    interlace stream quarantine list orders
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from interlace.project import Project


def _fail(message: str) -> NoReturn:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


def _project(ctx: click.Context, project: Path | None, env: str | None) -> Project:
    from interlace.errors import InterlaceError
    from interlace.project import load_project

    parent = ctx.find_root().obj
    root = project or getattr(parent, "project_path", None) or Path.cwd()
    try:
        return load_project(Path(root), env=env or getattr(parent, "env", None))
    except InterlaceError as exc:
        _fail(str(exc))


project_option = click.option(
    "--project",
    "-p",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project folder (default: the current folder).",
)
env_option = click.option("--env", "-e", default=None, help="Environment (default: dev).")
url_option = click.option(
    "--url", default=None, help="A running stream server (http://host:port) to ask instead."
)
key_option = click.option(
    "--api-key", envvar="INTERLACE_API_KEY", default=None, help="API key for --url."
)


def _http(
    method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Any:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read())["error"]["message"]
        except Exception:
            message = error.reason
        _fail(f"{method} {url}: HTTP {error.code}: {message}")
    except urllib.error.URLError as error:
        _fail(f"cannot reach {url}: {error.reason} (is the stream server running?)")


def _auth(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


class _Server:
    """The server a command asks: ``--url``, else the running ``interlace serve`` of the
    project (found through its discovery file, with the key it made for this machine)."""

    def __init__(self, url: str, api_key: str | None, *, discovered: bool) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.discovered = discovered


def _server(project: Project, url: str | None, api_key: str | None) -> _Server | None:
    if url:
        return _Server(url, api_key, discovered=False)
    from interlace.discovery import read_discovery

    info = read_discovery(project.root, project.env)
    if info is None:
        return None
    return _Server(info.url, api_key or info.token, discovered=True)


def _ask(server: _Server, path: str) -> tuple[int, Any]:
    """``GET`` a route of ``server``: ``(status, body)``; status 0 when it does not answer."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(server.url + path, headers=_auth(server.api_key))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read())
        except ValueError:
            return error.code, None
    except (urllib.error.URLError, OSError):
        return 0, None


NO_SERVER = (
    "adapter health: no server is running for this project; adapters run only inside a server "
    "(`interlace serve` or `interlace stream serve`): start one to see their health, or pass "
    "--url"
)


@click.group()
def stream() -> None:
    """Event streams: the ingestion server, publishing, state and the quarantine."""


@stream.command()
@project_option
@env_option
@click.option("--host", default=None, help="Address to listen on (default: streaming.host).")
@click.option("--port", type=int, default=None, help="Port (default: streaming.port, 8765).")
@click.option("--access-log", is_flag=True, help="Log one line per request.")
@click.pass_context
def serve(
    ctx: click.Context,
    project: Path | None,
    env: str | None,
    host: str | None,
    port: int | None,
    access_log: bool,
) -> None:
    """Run the standalone ingestion server (publish API, committer, triggered runs, adapters)."""
    import logging

    from interlace.errors import InterlaceError

    from interlace_stream.server import serve as run_server

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    loaded = _project(ctx, project, env)
    try:
        run_server(loaded, host=host, port=port, access_log=access_log)
    except InterlaceError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot listen: {exc.strerror or exc} (is the port in use? pass --port)")


@stream.command()
@project_option
@env_option
@click.pass_context
def run(ctx: click.Context, project: Path | None, env: str | None) -> None:
    """Run adapters, the committer and triggered runs without the HTTP server (Ctrl-C stops)."""
    import asyncio
    import logging
    import signal

    from interlace.errors import InterlaceError

    from interlace_stream.runtime import StreamRuntime

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    loaded = _project(ctx, project, env)

    async def main() -> None:
        runtime = StreamRuntime(loaded)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await runtime.start()
        click.echo(f"streams running: {', '.join(runtime.streams) or 'none'}; Ctrl-C stops")
        try:
            await stop.wait()
        finally:
            await runtime.stop()

    try:
        asyncio.run(main())
    except InterlaceError as exc:
        _fail(str(exc))


def _summaries(
    ctx: click.Context,
    project: Path | None,
    env: str | None,
    url: str | None,
    api_key: str | None,
    name: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The streams' state and a note on where it came from: from ``--url`` or the running
    server of the project (adapter health included), else read from disk (adapters: "not
    running", and the note says that health is known only inside a server)."""
    path = f"/api/v1/streams/{name}" if name else "/api/v1/streams"
    if url:
        found = _http("GET", url.rstrip("/") + path, headers=_auth(api_key))
        return ([found] if name else list(found["streams"])), None
    from interlace.errors import InterlaceError

    from interlace_stream.status import offline_status

    loaded = _project(ctx, project, env)
    server = _server(loaded, None, api_key)
    note = NO_SERVER
    if server is not None:
        status, found = _ask(server, path)
        if status == 200 and isinstance(found, dict):
            rows = [found] if name else list(found["streams"])
            return rows, f"from the server at {server.url} (adapter health included)"
        if status == 404 and name is not None:
            _fail(f"no stream named '{name}' in the server at {server.url}")
        if status == 0:
            note = (
                f"adapter health: the server at {server.url} does not answer; adapters run only "
                "inside a server"
            )
        else:
            detail = (found or {}).get("error", {}).get("message") if found else None
            note = f"adapter health: the server at {server.url} answered HTTP {status}" + (
                f" ({detail})" if detail else ""
            )
            if status == 503:  # it serves no stream (yet): its database is its own
                _fail(f"{note}; it runs no streams")
    try:
        rows = offline_status(loaded, name)
    except InterlaceError as exc:
        _fail(str(exc))
    if name is not None and not rows:
        _fail(f"no stream named '{name}' in {loaded.root}")
    return rows, note


@stream.command("list")
@project_option
@env_option
@url_option
@key_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(
    ctx: click.Context,
    project: Path | None,
    env: str | None,
    url: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Streams with their rate, lag (log vs table, and per consumer), quarantine and adapters.

    Asks the running server of the project (or --url) when there is one: adapters run only
    inside a server, so their health is known only there."""
    rows, note = _summaries(ctx, project, env, url, api_key, None)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no streams (declare one with @stream or under streams: in config.yaml)")
        return
    header = (
        "STREAM",
        "MODE",
        "RATE/S",
        "LOGGED",
        "COMMITTED",
        "LAG",
        "QUARANTINED",
        "CONSUMERS",
        "ADAPTERS",
    )
    table = [
        (
            r["name"],
            r["mode"],
            f"{r['rate']:g}",
            str(r["durable_offset"]),
            str(r["committed_offset"]),
            str(r["lag"]),
            str(r["quarantined"]),
            ", ".join(f"{c['consumer']} (lag {c['lag']})" for c in r["consumers"]) or "-",
            ", ".join(f"{a['name']} {a['state']}" for a in r.get("adapters", [])) or "-",
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(header)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for row in table:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    if note is not None:
        click.echo(note)


@stream.command()
@click.argument("name")
@project_option
@env_option
@url_option
@key_option
@click.pass_context
def show(
    ctx: click.Context,
    name: str,
    project: Path | None,
    env: str | None,
    url: str | None,
    api_key: str | None,
) -> None:
    """One stream's state as JSON (from the running server of the project when there is
    one, with its adapters' health; else read from disk, its adapters "not running")."""
    rows, _ = _summaries(ctx, project, env, url, api_key, name)
    click.echo(json.dumps(rows[0], indent=2))


@stream.command()
@click.argument("name")
@click.argument("data", required=False)
@project_option
@env_option
@url_option
@key_option
@click.option("--key", "idempotency_key", default=None, help="Idempotency key (safe retries).")
@click.pass_context
def publish(
    ctx: click.Context,
    name: str,
    data: str | None,
    project: Path | None,
    env: str | None,
    url: str | None,
    api_key: str | None,
    idempotency_key: str | None,
) -> None:
    """Publish DATA (a JSON object or array, NDJSON, @file, or stdin when omitted) to NAME.

    Goes to --url, else to the running server of the project (which holds the stream's log),
    else straight into the log on disk."""
    from interlace.errors import InterlaceError

    from interlace_stream.body import events_of
    from interlace_stream.errors import StreamError

    if data is None or data == "-":
        raw = sys.stdin.buffer.read()
    elif data.startswith("@"):
        raw = Path(data[1:]).read_bytes()
    else:
        raw = data.encode()
    try:
        events, _ = events_of(raw, "")
    except StreamError as exc:
        _fail(exc.message)
    loaded = None if url else _project(ctx, project, env)
    server = (
        _server(loaded, url, api_key)
        if loaded is not None
        else _Server(str(url), api_key, discovered=False)
    )
    if server is not None:
        headers = {"Content-Type": "application/json", **_auth(server.api_key)}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        result = _http(
            "POST",
            f"{server.url}/api/v1/streams/{name}",
            body=json.dumps(events).encode(),
            headers=headers,
        )
    else:
        from interlace_stream.publishing import publish_sync

        assert loaded is not None
        try:
            result = publish_sync(
                name, events, project=loaded, idempotency_key=idempotency_key
            ).to_dict()
        except InterlaceError as exc:
            _fail(str(exc))
    click.echo(
        f"stored {result['accepted']} event(s) in '{name}'"
        + (f", {result['duplicates']} duplicate(s) skipped" if result["duplicates"] else "")
    )


@stream.group()
def quarantine() -> None:
    """Events set aside by a `validate_schema: quarantine` stream."""


@quarantine.command("list")
@click.argument("name")
@project_option
@env_option
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def quarantine_list(
    ctx: click.Context, name: str, project: Path | None, env: str | None, limit: int, as_json: bool
) -> None:
    """List the quarantined events of stream NAME."""
    from interlace_stream.kind import project_streams
    from interlace_stream.quarantine import quarantined

    loaded = _project(ctx, project, env)
    streams = project_streams(loaded)
    if name not in streams:
        _fail(f"no stream named '{name}' (streams: {', '.join(sorted(streams)) or 'none'})")
    rows = quarantined(loaded, streams[name], limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo(f"stream '{name}' has no quarantined events")
    for row in rows:
        state = f"replayed {row['replayed_at']}" if row["replayed_at"] else "waiting"
        click.echo(f"offset {row['offset']} ({state}): {row['error']}\n    {row['payload']}")


@quarantine.command("replay")
@click.argument("name")
@project_option
@env_option
@click.pass_context
def quarantine_replay(ctx: click.Context, name: str, project: Path | None, env: str | None) -> None:
    """Publish the quarantined events of NAME again (after fixing its fields) and commit them.
    A running server holds the log: use POST /api/v1/streams/NAME/quarantine/replay then."""
    import asyncio

    from interlace.errors import InterlaceError

    from interlace_stream.quarantine import replay
    from interlace_stream.runtime import StreamRuntime

    loaded = _project(ctx, project, env)

    async def main() -> tuple[int, int]:
        runtime = StreamRuntime(loaded, adapters=False, execute_runs=False)
        if name not in runtime.streams:
            _fail(f"no stream named '{name}'")
        await runtime.start()
        try:
            return await replay(runtime, runtime.streams[name])
        finally:
            await runtime.stop()

    try:
        replayed, accepted = asyncio.run(main())
    except InterlaceError as exc:
        _fail(str(exc))
    click.echo(f"replayed {replayed} event(s) of '{name}' ({accepted} stored again)")


def main() -> None:
    """The ``interlace-stream`` console script: the same commands without the Interlace CLI."""
    stream(prog_name="interlace-stream")
