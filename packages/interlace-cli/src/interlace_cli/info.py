"""`interlace info`: the project at a glance, or one model in detail."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from interlace_cli.console import make_console, print_table

if TYPE_CHECKING:
    from interlace.project import Project


def show_project(project: Project, *, check: bool) -> None:
    from interlace.opening import open_engines
    from interlace.plugins import open_storage

    console = make_console()
    console.print(
        Text.assemble(
            ("project ", "bold"),
            project.name,
            "  ",
            ("env ", "bold"),
            project.env,
            "  ",
            ("root ", "bold"),
            str(project.root),
        )
    )
    connections = Table(title="connections", title_justify="left")
    for column in ("name", "type", "target", "status"):
        connections.add_column(column)
    engines: dict[str, Any] = dict(open_engines(project))
    for name in project.config.connections:
        if name not in engines:  # a storage connection (filesystem, sftp, s3): no engine
            engines[name] = open_storage(project.config, name, project.root)
    for name, cfg in project.config.connections.items():
        status = Text("not checked", style="dim")
        if check:
            try:
                engines[name].ping()
                created = getattr(engines[name], "exists", True)
                words = "reachable" if created else "reachable (created on first run)"
                health = getattr(engines[name], "health", None)
                if callable(health):  # a cluster says how it is (Spark: version, executors)
                    words += " (" + ", ".join(f"{k} {v}" for k, v in health().items()) + ")"
                status = Text(words, style="green")
            except Exception as exc:
                status = Text(f"unreachable: {str(exc).splitlines()[0]}", style="red")
            finally:
                engines[name].close()
        target = getattr(engines[name], "path", None)
        if target is None and callable(getattr(engines[name], "url", None)):
            target = engines[name].url()
        connections.add_row(name, cfg.type, target or "", status)
    console.print(connections)
    rows = [
        (
            name,
            spec.kind,
            spec.materialize,
            spec.strategy,
            spec.schema,
            ", ".join(spec.depends_on),
            ", ".join(spec.tags),
            spec.location or "",
        )
        for name, spec in ((n, project.models[n]) for n in project.graph.order)
    ]
    print_table(
        console,
        f"models ({len(project.models)})",
        ("name", "kind", "materialize", "strategy", "schema", "upstream", "tags", "file"),
        rows,
    )


def show_model(project: Project, name: str) -> None:
    from interlace.opening import has_state, open_state

    console = make_console()
    spec = project.resolve(name)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows = [
        ("model", spec.name),
        ("kind", spec.kind),
        ("file", spec.location or ""),
        ("connection", spec.connection),
        ("schema", spec.schema),
        ("materialize", spec.materialize),
        ("strategy", spec.strategy),
        ("schema_mode", spec.schema_mode),
        ("tags", ", ".join(spec.tags)),
        ("description", spec.description or ""),
        ("upstream", ", ".join(spec.depends_on)),
        ("downstream", ", ".join(project.graph.sort(project.graph.children[spec.name]))),
    ]
    opts = spec.options
    for key in ("primary_key", "fields", "column_mapping", "owner"):
        value = getattr(opts, key)
        if value:
            rows.append((key, str(value)))
    for key, value in rows:
        grid.add_row(key, value)
    console.print(grid)
    console.print()
    documented = dict.fromkeys([*opts.fields, *spec.column_docs])
    if documented:
        columns = Table(title="columns", title_justify="left")
        for column in ("column", "type", "description", "checks"):
            columns.add_column(column)
        for column in documented:
            doc = spec.column_docs.get(column)
            declared = opts.fields.get(column)
            columns.add_row(
                column,
                "" if declared is None else str(getattr(declared, "__name__", declared)),
                Text(doc.description or "") if doc else "",
                ", ".join(str(c) for c in doc.checks) if doc else "",
            )
        console.print(columns)
    if spec.sql is not None:
        console.print(Text("sql", style="bold"))
        console.print(spec.sql)
    elif spec.fn is not None:
        console.print(Text("source", style="bold"))
        try:
            console.print(inspect.getsource(spec.fn).rstrip())
        except OSError:
            pass
    history = []
    if has_state(project):  # looking must not create the state store
        store = open_state(project)
        try:
            history = store.model_runs(model=spec.name, limit=5, env=project.env)
        finally:
            store.close()
    if history:
        import datetime as dt

        runs = Table(title="recent runs", title_justify="left")
        for column in ("run", "finished", "status", "rows", "duration", "detail"):
            runs.add_column(column)
        for record in history:
            when = dt.datetime.fromtimestamp(record.finished_at or 0).strftime("%Y-%m-%d %H:%M:%S")
            runs.add_row(
                record.run_id[:8],
                when,
                record.status,
                "" if record.rows is None else str(record.rows),
                f"{record.duration:.3f}s" if record.duration is not None else "",
                record.error or record.skip_reason or "",
            )
        console.print(runs)
