"""The ``interlace.hooks`` entry point of interlace-service: ``interlace serve`` and
``interlace state prune``, and the ``service:`` config section.

Imported whenever the CLI lists its commands, so it imports only click (the commands import
aiohttp and the service when they run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click


def cli_commands() -> list[click.Command]:
    from interlace_service.commands import serve, state

    return [serve, state]


def config_sections() -> dict[str, Any]:
    """The ``service:`` section of config.yaml: authentication, sessions, rate limits and CORS
    (:class:`interlace_http.settings.SecuritySettings`), validated when the project loads."""
    from interlace_http.settings import SecuritySettings

    return {"service": SecuritySettings}
