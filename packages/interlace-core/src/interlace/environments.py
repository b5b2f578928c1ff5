"""The environments a project knows, so that a typo in ``--env`` or ``--to`` is noticed before
it builds a new database.

Example::

    project = interlace.load_project(".", env="prdo")
    if project.env not in known_environments(project):
        print(f"'{project.env}' is new; known: {', '.join(known_environments(project))}")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace.config import list_environments

if TYPE_CHECKING:
    from interlace.project import Project

KNOWN_BECAUSE = (
    "an environment is known once it has a config.NAME.yaml overlay, is listed in "
    "environments (or environments.production), or something ran in it"
)


def known_environments(project: Project) -> list[str]:
    """``dev``, environments with an overlay file, those the config lists (``environments``,
    ``environments.production``) and those something ran in, sorted.

    Looking does not create the state store.
    """
    from interlace.opening import has_state, open_state

    environments = project.config.environments
    known = set(list_environments(project.root)) | set(environments.production)
    known |= set(environments.names or ())
    if has_state(project):
        store = open_state(project)
        try:
            known |= set(store.environments())
        finally:
            store.close()
    return sorted(known)
