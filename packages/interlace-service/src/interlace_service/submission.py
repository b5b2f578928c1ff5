"""Turning a run request into a row of the run queue: check it, resolve its targets, refuse or
queue it when other requests target the same models, announce it (``run.queued``).

Example::

    request = submit_run(service, select=["+revenue"], options={"force": True},
                         requested_by="key:ci (3f9a0c1b2d4e)")
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from interlace.state.run_queue import ACTIVE, RunRequest
from interlace.window import check_window, count_windows
from interlace_http.errors import HTTPError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from interlace_service.options import OnConflict
    from interlace_service.service import Service


def submit_run(
    service: Service,
    *,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    options: dict[str, Any] | None = None,
    requested_by: str,
    on_conflict: OnConflict | None = None,
) -> RunRequest:
    """Queue a run of the selection (blocking: call it off the event loop).

    Raises an :class:`~interlace.errors.InterlaceError` for a selection that matches nothing or
    a bad window, and a 409 :class:`HTTPError` when ``on_conflict`` (default: the server's) is
    ``reject`` and a queued or running request targets one of the same models.
    """
    options = {k: v for k, v in (options or {}).items() if v not in (None, False)}
    if options.pop("reload", False):
        service.reload_if_changed()
        if service.load_error is not None:
            raise HTTPError(
                422,
                f"the project does not load: {service.load_error}",
                code="project_error",
                hint="fix it; the server keeps serving the version that loaded",
            )
    project = service.project
    targets = project.select(list(select), list(exclude))  # SelectionError names the selector
    since, until, window = options.get("since"), options.get("until"), options.get("window")
    check_window(since, until)
    if window is not None:
        if since is None:
            from interlace.window import WindowError

            raise WindowError(
                "window needs since", hint='e.g. {"since": "2024-01-01", "window": "1d"}'
            )
        count_windows(since, until, window)
    store = service.store
    policy = on_conflict or service.options.on_conflict
    if policy == "reject":
        busy = [r for r in store.run_requests(project.env, ACTIVE) if set(r.targets) & set(targets)]
        if busy:
            models = sorted({t for r in busy for t in r.targets} & set(targets))
            raise HTTPError(
                409,
                f"run {busy[0].id} ({busy[0].status}) already targets {', '.join(models[:10])}",
                code="run_conflict",
                details={"runs": [r.id for r in busy], "models": models},
                hint="wait for it (GET /api/v1/runs/{id}), cancel it, or send "
                '"on_conflict": "queue" to run after it',
            )
    request = RunRequest(
        id=uuid.uuid4().hex,
        env=project.env,
        project=project.name,
        selection=tuple(select),
        exclusions=tuple(exclude),
        targets=tuple(targets),
        options=options,
        requested_by=requested_by,
        created_at=time.time(),
    )
    with store.transaction():
        store.enqueue_run(request)
        store.add_event(
            request.env,
            request.id,
            "run.queued",
            request.created_at,
            json.dumps(
                {
                    "type": "run.queued",
                    "run_id": request.id,
                    "at": request.created_at,
                    "selection": list(request.selection),
                    "exclude": list(request.exclusions),
                    "models": list(request.targets),
                    "requested_by": requested_by,
                    "options": options,
                },
                default=str,
            ),
        )
    service.worker.wake()
    return request


def cancel_run_request(service: Service, request_id: str) -> RunRequest:
    """Cancel a request: a queued one at once, a running one through the server that holds it
    (this one at once, another when it next polls the flag). 404 for an unknown id, 409 for a
    run that already ended or that no server runs (blocking: call it off the event loop)."""
    store = service.store
    before = store.get_run_request(request_id)
    if before is None:
        run = store.get_run(request_id)
        if run is None:
            raise HTTPError(404, f"no run '{request_id}'", hint="GET /api/v1/runs lists them")
        if run.status != "running":
            raise HTTPError(409, f"run {request_id} already ended ({run.status})")
        raise HTTPError(
            409,
            f"run {request_id} was not started through a server, so no server can stop it",
            hint="stop it where it runs (Ctrl-C in its terminal, or SIGTERM to its process)",
        )
    if before.finished:
        raise HTTPError(409, f"run {request_id} already ended ({before.status})")
    after = store.request_cancel(request_id, time.time())
    assert after is not None
    service.feed.nudge()  # a queued request's run.ended is stored
    if before.status == "queued" and after.status == "cancelled":
        store.add_event(
            after.env,
            after.id,
            "run.completed",
            after.finished_at or time.time(),
            json.dumps(
                {
                    "type": "run.completed",
                    "run_id": after.id,
                    "at": after.finished_at,
                    "status": "cancelled",
                    "error": "cancelled before it started",
                    "duration": 0.0,
                    "succeeded": 0,
                    "failed": 0,
                    "skipped": 0,
                }
            ),
        )
    elif after.status == "running":
        service.worker.cancel_local(request_id)
        service.worker.wake()
    return after
