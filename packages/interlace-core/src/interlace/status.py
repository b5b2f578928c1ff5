"""The statuses and kinds a run, a model, a check or a dead letter can have: one place for each.

The state store keeps them as text; these types say which texts exist, so a typo in a comparison
or a new value that a consumer does not handle is a type error. Example::

    from interlace.status import RunOutcome

    def exit_code(status: RunOutcome) -> int:
        return 0 if status == "success" else 1
"""

from __future__ import annotations

from typing import Literal

RunStatus = Literal["running", "success", "failed", "cancelled", "killed"]
"""A run in the state store: ``running`` until it ends; ``killed`` when its process stopped
(killed or crashed) before it recorded its end."""

RunOutcome = Literal["success", "failed", "cancelled"]
"""How a run ended: :class:`~interlace.events.RunFinished`, :class:`~interlace.results.RunResult`."""

ModelRunStatus = Literal["running", "success", "failed", "skipped", "interrupted"]
"""A model's run in the state store: ``running`` while it writes its table; ``interrupted`` when
its run stopped before its state was recorded."""

ModelStatus = Literal["success", "failed", "skipped", "cancelled"]
"""A model's outcome in a run: :class:`~interlace.results.ModelResult`."""

SkipKind = Literal["unchanged", "upstream_failed", "cancelled"]
"""Why a model was skipped: nothing changed (change detection), an upstream failed, or the run
was cancelled."""

CheckStatus = Literal["passed", "failed", "error"]
"""A quality check's outcome: ``error`` when the check itself could not run."""

Severity = Literal["error", "warn"]
"""A quality check's severity: ``error`` blocks publication, ``warn`` only reports."""

DeadLetterStatus = Literal["open", "resolved", "retried"]
"""A dead letter: ``open`` until resolved by hand or retried successfully."""

RunRequestStatus = Literal["queued", "running", "done", "failed", "cancelled"]
"""A run request in the run queue: ``queued`` until a server takes it, ``running`` while it holds
its lease, then ``done`` (the run succeeded), ``failed`` or ``cancelled``."""
