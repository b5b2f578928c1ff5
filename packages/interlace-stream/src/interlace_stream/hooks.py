"""The ``interlace.hooks`` entry point of interlace-stream: the ``stream`` model kind, the
``streams:`` / ``streaming:`` / ``adapters:`` config sections, the stream routes of ``interlace
serve``, the runtime inside it (``service_extensions``: logs, committer, adapters, reloads) and
the ``interlace stream ...`` commands. Light on purpose (no aiohttp at import)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click
    from interlace.kinds import ModelKind


def model_kinds() -> list[ModelKind]:
    from interlace.strategy_registry import is_registered, register_strategy

    from interlace_stream.kind import StreamKind

    if not is_registered("merge_stream_with_source"):  # before the entry point is installed
        from interlace_stream.strategy import MergeStreamWithSource

        register_strategy(MergeStreamWithSource())
    return [StreamKind()]


def config_sections() -> dict[str, Any]:
    from interlace_stream.declaration import StreamsSection
    from interlace_stream.settings import AdaptersSection, StreamingSettings

    return {"streams": StreamsSection, "streaming": StreamingSettings, "adapters": AdaptersSection}


def service_routers() -> list[Any]:
    from interlace_stream.api import stream_router

    return [stream_router()]


def service_extensions() -> list[Any]:
    from interlace_stream.runtime import extend_service

    return [extend_service]


def cli_commands() -> list[click.Command]:
    from interlace_stream.cli import stream

    return [stream]
