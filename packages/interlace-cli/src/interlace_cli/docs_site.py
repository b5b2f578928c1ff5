"""`interlace docs build|serve`: a static documentation site of the project (SPEC §13.3).

The site is one folder (``index.html``, ``data.js``, ``search-index.json``, ``app.js``,
``style.css``) that opens from disk (``file://``) or any static host and needs no network:
its assets ship inside this package. It holds every model with its columns and descriptions,
its SQL or source, table and column lineage graphs, checks with their last results and the
schema history. The project's text (names, descriptions, SQL) is data for the page's script,
which sets it as text, never as HTML.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from interlace_cli.common import env_option, handle_errors, project_option, state_of

if TYPE_CHECKING:
    from interlace.project import Project

ASSETS = ("app.js", "style.css")
INDEX = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="style.css">
</head>
<body>
<nav>
<strong id="project"></strong>
<input id="search" type="search" placeholder="Search models and columns" aria-label="search">
<div id="models"></div>
</nav>
<main id="content"></main>
<script src="data.js"></script>
<script src="app.js"></script>
</body>
</html>
"""


def site_data(project: Project) -> dict[str, Any]:
    """Everything the site shows, as JSON-ready data (also what ``data.js`` holds)."""
    from interlace.opening import has_state, open_state
    from interlace.project_lineage import project_lineage

    store = open_state(project) if has_state(project) else None
    try:
        lineage = project_lineage(project, store)
        models: dict[str, Any] = {}
        for name in project.graph.order:
            spec = project.models[name]
            found = lineage[name]
            history = store.schema_versions(project.env, name) if store is not None else []
            results: dict[str, Any] = {}
            if store is not None:
                for stored in store.quality_results(project.env, model=name, limit=50):
                    results.setdefault(stored.result.name, stored.result)
            checks = []
            for check in project.checks.get(name, []):
                label = str(getattr(check, "label", None) or getattr(check, "name", None) or check)
                last = results.get(label)
                checks.append(
                    {
                        "name": label,
                        "status": getattr(last, "status", None),
                        "failing_rows": getattr(last, "failing_rows", None),
                    }
                )
            recorded = dict(history[-1].columns) if history else {}
            docs = spec.column_docs
            columns = [
                {
                    "name": c.name,
                    "type": c.type or recorded.get(c.name),
                    "description": c.description or getattr(docs.get(c.name), "description", None),
                    "sources": [str(s) for s in c.sources],
                }
                for c in found.columns
                if c.name != "*"
            ]
            if not columns and recorded:
                columns = [
                    {
                        "name": c,
                        "type": t,
                        "description": getattr(docs.get(c), "description", None),
                        "sources": [],
                    }
                    for c, t in recorded.items()
                ]
            source = None
            if spec.fn is not None:
                try:
                    import inspect

                    source = inspect.getsource(spec.fn)
                except (OSError, TypeError):
                    source = None
            models[name] = {
                "name": name,
                "kind": spec.kind,
                "description": spec.description,
                "materialize": spec.materialize,
                "strategy": spec.strategy,
                "schema": spec.schema,
                "primary_key": list(spec.options.primary_key),
                "tags": list(spec.tags),
                "owner": spec.options.owner,
                "file": spec.location,
                "sql": spec.sql,
                "source": source,
                "upstream": list(project.graph.parents[name]),
                "downstream": list(project.graph.children[name]),
                "columns": columns,
                "lineage": {"status": found.status, "reason": found.reason},
                "checks": checks,
                "schema_history": [
                    {
                        "version": v.version,
                        "columns": [f"{c} {t}" for c, t in v.columns],
                        "change": v.change,
                    }
                    for v in history
                ],
            }
    finally:
        if store is not None:
            store.close()
    column_edges = sorted(
        {
            (f"{s.model}.{s.column}", f"{name}.{c.name}")
            for name, found in lineage.items()
            for c in found.columns
            for s in c.sources
        }
    )
    return {
        "project": project.name,
        "env": project.env,
        "models": models,
        "model_edges": [[p, n] for n in project.graph.order for p in project.graph.parents[n]],
        "column_edges": [list(e) for e in column_edges],
        "search": search_index(models),
    }


def search_index(models: dict[str, Any]) -> list[dict[str, str]]:
    """One entry per model: the lower-cased text a search matches (name, description,
    columns and their descriptions, tags)."""
    out = []
    for name, model in models.items():
        words = [name, model.get("description") or "", *model.get("tags", [])]
        for column in model["columns"]:
            words += [column["name"], column.get("description") or ""]
        out.append({"model": name, "text": " ".join(words).lower()})
    return out


def build_site(project: Project, out: Path) -> Path:
    """Write the site into ``out`` (created; files of an earlier build are replaced)."""
    import html  # here, not at the top: every `interlace` command imports this module
    import json
    from importlib import resources

    data = site_data(project)
    out.mkdir(parents=True, exist_ok=True)
    assets = resources.files("interlace_cli") / "docs_assets"
    for name in ASSETS:
        (out / name).write_text((assets / name).read_text(encoding="utf-8"), encoding="utf-8")
    # a script, not fetched JSON: browsers refuse fetch() on pages opened from file://
    text = json.dumps(data, sort_keys=True).replace("</", "<\\/")
    (out / "data.js").write_text(f"window.INTERLACE_DOCS = {text};\n", encoding="utf-8")
    (out / "search-index.json").write_text(json.dumps(data["search"]), encoding="utf-8")
    title = html.escape(f"{project.name} — Interlace docs")
    (out / "index.html").write_text(INDEX.format(title=title), encoding="utf-8")
    return out


@click.group()
def docs() -> None:
    """Build or serve a static documentation site of the project."""


@docs.command("build")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write (default: target/docs in the project).",
)
@project_option
@env_option
@click.pass_context
def build(ctx: click.Context, out: Path | None, project: Path | None, env: str | None) -> None:
    """Write the site: open its index.html from disk, or put the folder on any static host."""
    loaded = state_of(ctx.find_root(), project, env).load()
    target = out or loaded.root / "target" / "docs"
    with handle_errors():
        build_site(loaded, target)
    click.echo(f"docs written to {target / 'index.html'} ({len(loaded.models)} models)")


@docs.command("serve")
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None)
@project_option
@env_option
@click.pass_context
def serve(
    ctx: click.Context,
    port: int,
    host: str,
    out: Path | None,
    project: Path | None,
    env: str | None,
) -> None:
    """Build the site and serve it over HTTP until interrupted."""
    import functools
    import http.server

    loaded = state_of(ctx.find_root(), project, env).load()
    target = out or loaded.root / "target" / "docs"
    with handle_errors():
        build_site(loaded, target)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(target))
    with http.server.ThreadingHTTPServer((host, port), handler) as server:
        click.echo(f"serving {target} on http://{host}:{server.server_address[1]}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
