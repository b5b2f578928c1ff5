"""What a Python model sees through its ``context`` parameter."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from interlace.config import ProjectConfig
    from interlace.engines.base import Session
    from interlace.spec import ModelSpec


@dataclass
class ModelContext:
    """Run information for one model execution.

    Example::

        @model
        def audit(context):
            context.logger.info("run %s in %s", context.run_id, context.env)
            context.connection.execute("INSERT INTO audit_log VALUES (now())")
    """

    run_id: str
    env: str
    model: ModelSpec
    config: ProjectConfig
    project_root: Path
    session: Session
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("interlace.model"))
    cursor: Any = None

    @property
    def connection(self) -> Any:
        """The raw database handle of this model's task (a DuckDB cursor for DuckDB)."""
        return getattr(self.session, "cursor", self.session)

    @property
    def ibis(self) -> Any:
        """An ibis backend on this model's connection."""
        return self.session.ibis()

    def table(self, name: str, schema: str | None = None) -> Any:
        """Any table of the connection as a lazy ibis table."""
        return self.ibis.table(name, database=schema or self.model.schema)
