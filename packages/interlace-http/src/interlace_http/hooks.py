"""The ``interlace.hooks`` entry point of interlace-http: the `interlace apikey` commands.

Imported whenever the CLI lists its commands, so it imports nothing heavy (no aiohttp).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click


def cli_commands() -> list[click.Command]:
    from interlace_http.cli import apikey

    return [apikey]
