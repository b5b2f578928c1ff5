"""`none`: Interlace writes nothing; the model's own code manages its target."""

from __future__ import annotations

from interlace.strategies.base import PublishContext, Step, Strategy


class NoWrite(Strategy):
    name = "none"
    writes = False
    incremental = False

    def steps(self, ctx: PublishContext) -> list[Step]:
        return []
