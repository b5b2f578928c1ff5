"""``interlace schedule list|show|pause|resume|trigger``: the schedules of a project, read and
changed in the state store directly (no server needs to run; a running one sees the change
before its next fire).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from interlace_service.commands import _fail, _load, _where, env_option, project_option

if TYPE_CHECKING:
    from collections.abc import Callable

    from interlace.project import Project
    from interlace.state.base import StateStore

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _with_store(
    ctx: click.Context,
    project: Path | None,
    env: str | None,
    action: Callable[[Project, StateStore], Any],
) -> Any:
    from interlace.errors import InterlaceError
    from interlace.opening import open_state

    root, env_name = _where(ctx, project, env)
    try:
        loaded = _load(root, env_name)
        store = open_state(loaded)
        try:
            return action(loaded, store)
        finally:
            store.close()
    except InterlaceError as exc:
        _fail(str(exc))


@click.group("schedule")
def schedule() -> None:
    """Schedules of models and of the config: list, inspect, pause, resume, trigger.

    `interlace serve` fires them; these commands work whether or not it runs.
    """


@schedule.command("list")
@json_option
@project_option
@env_option
@click.pass_context
def list_schedules(
    ctx: click.Context, as_json: bool, project: Path | None, env: str | None
) -> None:
    """Every schedule with its state, last fire and next slot."""
    from interlace_service.scheduler.status import schedule_views

    views = _with_store(ctx, project, env, lambda p, s: schedule_views(s, p))
    rows = [v.as_dict() for v in views]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no schedules: add schedule={...} to a model or a schedules: section")
        return
    headers = ("NAME", "RULE", "RUNS", "STATE", "LAST FIRED", "NEXT SLOT")
    table = [
        (
            r["name"],
            r["rule"],
            " ".join(r["select"]),
            r["state"],
            _short(r["last_fired_at"]),
            _short(r["next_slot"]),
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *table, strict=True)]
    for line in (headers, *table):
        click.echo("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip())


def _short(iso: str | None) -> str:
    return "-" if iso is None else iso.replace("T", " ")[:19]


@schedule.command("show")
@click.argument("name")
@json_option
@project_option
@env_option
@click.pass_context
def show(
    ctx: click.Context, name: str, as_json: bool, project: Path | None, env: str | None
) -> None:
    """One schedule: its rules, state and recent slots."""
    from interlace_service.scheduler.status import schedule_view

    def read(p: Project, s: StateStore) -> dict[str, Any]:
        view = schedule_view(s, p, name).as_dict()
        view["slots"] = [
            {
                "slot": _iso(f.slot),
                "outcome": f.outcome,
                "fired_at": _iso(f.fired_at),
                "run_id": f.request_id,
            }
            for f in s.schedule_fires(p.env, name, limit=20)
        ]
        return view

    data = _with_store(ctx, project, env, read)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for key in (
        "name",
        "rule",
        "source",
        "state",
        "select",
        "exclude",
        "catch_up",
        "overlap",
        "force",
        "full_refresh",
        "last_fired_at",
        "last_run_id",
        "next_slot",
    ):
        value = data[key]
        if isinstance(value, list):
            value = " ".join(value) or "-"
        click.echo(f"{key.replace('_', ' '):>14}: {'-' if value is None else value}")
    click.echo("recent slots:" if data["slots"] else "recent slots: none yet")
    for slot in data["slots"]:
        click.echo(f"  {_short(slot['slot'])}  {slot['outcome']:<8} {slot['run_id'] or ''}")


def _iso(moment: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat()


def _pause_command(paused: bool) -> click.Command:
    verb = "pause" if paused else "resume"

    @click.argument("name")
    @project_option
    @env_option
    @click.pass_context
    def command(ctx: click.Context, name: str, project: Path | None, env: str | None) -> None:
        from interlace_service.scheduler.status import set_paused

        view = _with_store(ctx, project, env, lambda p, s: set_paused(s, p, name, paused=paused))
        after = f"; next slot {_short(view.next_slot)}" if view.next_slot else ""
        click.echo(f"schedule {name}: {view.state}{after}")

    command.__doc__ = (
        "Stop firing a schedule until it is resumed."
        if paused
        else "Fire a paused schedule again (the slots of the pause are not run)."
    )
    return click.command(verb)(command)


schedule.add_command(_pause_command(True))
schedule.add_command(_pause_command(False))


@schedule.command("trigger")
@click.argument("name")
@project_option
@env_option
@click.pass_context
def trigger(ctx: click.Context, name: str, project: Path | None, env: str | None) -> None:
    """Queue a run of a schedule now (its slots are unaffected).

    A running `interlace serve` takes it at once; otherwise it waits in the queue for one.
    """
    import getpass

    from interlace_service.scheduler.firing import trigger_schedule

    request = _with_store(
        ctx,
        project,
        env,
        lambda p, s: trigger_schedule(s, p, name, requested_by=f"cli:{getpass.getuser()}"),
    )
    click.echo(f"queued run {request.id} of schedule {name} ({', '.join(request.targets)})")
