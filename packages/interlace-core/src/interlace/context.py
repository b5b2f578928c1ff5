"""What a Python model sees through its ``context`` parameter."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from interlace.config import ProjectConfig
    from interlace.engines.base import Session
    from interlace.plugins import StorageConnection
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
    _storages: dict[str, StorageConnection] = field(default_factory=dict, init=False, repr=False)

    @property
    def connection(self) -> Any:
        """The raw database handle of this model's task (a DuckDB cursor for DuckDB)."""
        handle = getattr(self.session, "user_connection", None)
        if handle is not None:
            return handle()
        return getattr(self.session, "cursor", self.session)

    @property
    def ibis(self) -> Any:
        """An ibis backend on this model's connection."""
        backend = getattr(self.session, "user_ibis", None)
        return backend() if backend is not None else self.session.ibis()

    def table(self, name: str, schema: str | None = None) -> Any:
        """Any table of the connection as a lazy ibis table."""
        return self.ibis.table(name, database=schema or self.model.schema)

    def storage(self, name: str) -> Any:
        """The storage connection ``name`` (filesystem, SFTP, S3): list, glob, read, write files.

        Example::

            for path in context.storage("landing").glob("orders/*.csv"):
                context.logger.info("found %s", path)
        """
        from interlace.plugins import open_storage

        if name not in self._storages:
            self._storages[name] = open_storage(self.config, name, self.project_root)
        return self._storages[name]

    def read_files(
        self, connection: str, pattern: str, format: str | None = None, **options: Any
    ) -> Any:
        """Files of a storage connection as a lazy ibis table on this model's engine.

        ``format`` (csv, parquet, json) defaults to the pattern's suffix; ``options`` go to the
        engine's reader (``header=True``, ``union_by_name=True``, ...).

        Example::

            @model
            def orders(context):
                return context.read_files("lake", "orders/*.parquet")
        """
        return self.storage(connection).read_into(self.session, pattern, format, **options)

    def close(self) -> None:
        """Close the storage connections this model opened (after the model finished)."""
        storages, self._storages = self._storages, {}
        for storage in storages.values():
            storage.close()
