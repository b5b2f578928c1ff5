"""The dead-letter queue's rules, shared by ``interlace dlq`` and the service's API.

A dead letter is a model run that failed after all its retries (SPEC §6.4). Retrying one runs
its model again with ``force`` (the model may be unchanged since); when that run succeeds the
letter is marked ``retried``. Resolving marks letters ``resolved`` without running anything.
Example::

    letter = find_dead_letter(store, 7, project.env)
    model = retry_target(project, letter)          # run [model] with force=True, then:
    mark_retried(store, letter.id, run_id, time.time())
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace.errors import InterlaceError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from interlace.project import Project
    from interlace.state.base import DeadLetter, StateStore

RETRIED = "succeeded on retry"
RESOLVED = "resolved by hand"


class DeadLetterError(InterlaceError):
    """A dead letter that does not exist, or that cannot be retried."""


def find_dead_letter(store: StateStore, letter_id: int, env: str) -> DeadLetter:
    """The letter ``letter_id`` of ``env``, or a :class:`DeadLetterError` saying there is none."""
    letter = store.get_dead_letter(letter_id)
    if letter is None or letter.env != env:
        raise DeadLetterError(
            f"no dead letter {letter_id} in env {env}",
            hint="`interlace dlq list --status all` (or GET /api/v1/dead-letters) lists them",
        )
    return letter


def retry_target(project: Project, letter: DeadLetter) -> str:
    """The model a retry of ``letter`` runs (with force); an error when it is gone."""
    if letter.model not in project.models:
        raise DeadLetterError(
            f"model '{letter.model}' of dead letter {letter.id} no longer exists in the project",
            hint="resolve the letter instead: `interlace dlq resolve "
            f"{letter.id}` (or POST /api/v1/dead-letters/{letter.id}/resolve)",
        )
    return letter.model


def mark_retried(store: StateStore, letter_id: int, at: float, run_id: str | None = None) -> None:
    """Record that a retry of the letter succeeded (in run ``run_id``)."""
    note = f"{RETRIED} (run {run_id})" if run_id else RETRIED
    store.set_dead_letter_status(letter_id, "retried", note, at)


def resolve_dead_letters(
    store: StateStore, letter_ids: Iterable[int], env: str, at: float, note: str = RESOLVED
) -> list[DeadLetter]:
    """Mark letters resolved (all or none: every id is checked first); returns them."""
    letters = [find_dead_letter(store, letter_id, env) for letter_id in letter_ids]
    with store.transaction():
        for letter in letters:
            store.set_dead_letter_status(letter.id, "resolved", note, at)
    return letters
