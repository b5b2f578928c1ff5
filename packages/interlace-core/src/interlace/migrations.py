"""Project migrations: versioned SQL scripts in ``migrations/`` (SPEC §14.1).

Files are ``NNN_name.up.sql`` with an optional ``NNN_name.down.sql`` (a plain ``NNN_name.sql`` is
an up file). They run in version order, each in its own transaction on the project's default
connection, or on the one a ``-- @connection: name`` header line names. Every applied migration is
recorded per environment in the state store with a checksum of its up file, so a file edited after
it was applied is reported. A failing migration is rolled back and stops the sequence: the
database is left as it was after the previous migration.

Example::

    project = interlace.load_project(".")
    migrator = Migrator(project)
    outcome = migrator.run(migrator.plan())          # everything pending
    outcome = migrator.run(migrator.plan(to=2))      # up or down to version 2
    outcome = migrator.run(migrator.plan(rollback=True))  # undo the newest one
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from interlace.errors import InterlaceError, first_line

if TYPE_CHECKING:
    from interlace.engines.base import Engine, Session
    from interlace.project import Project
    from interlace.state.base import AppliedMigration, StateStore

MIGRATIONS_DIR = "migrations"
_FILE = re.compile(r"^(?P<version>\d+)_(?P<name>[^.]+?)(?:\.(?P<direction>up|down))?\.sql$")
_HEADER = re.compile(r"^\s*--\s*@([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*?)\s*$")
HEADER_KEYS = ("connection",)
Direction = Literal["up", "down"]
MigrationState = Literal["applied", "pending", "changed", "missing"]


class MigrationError(InterlaceError):
    """Migration files are malformed, a target version does not exist, or a migration failed."""


@dataclass(frozen=True)
class Migration:
    """One migration as found on disk."""

    version: int
    name: str
    up: Path
    down: Path | None = None

    @property
    def label(self) -> str:
        return f"{self.version:03d}_{self.name}"

    @property
    def checksum(self) -> str:
        """sha256 of the up file (line endings normalised)."""
        text = self.up.read_text(encoding="utf-8").replace("\r\n", "\n")
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class MigrationStatus:
    """A migration file and/or its record in the state store (``--list``)."""

    version: int
    name: str
    state: MigrationState
    migration: Migration | None
    applied: AppliedMigration | None

    @property
    def has_down(self) -> bool:
        return self.migration is not None and self.migration.down is not None


@dataclass(frozen=True)
class MigrationStep:
    """One script to run: a migration's up or down file on one connection."""

    migration: Migration
    direction: Direction
    file: Path
    sql: str
    connection: str


@dataclass
class MigrationOutcome:
    """What :meth:`Migrator.run` did: the steps that ran and, if one failed, which and why.

    After :meth:`Migrator.cancel`, ``cancelled`` is set and ``interrupted`` names the migration
    that was stopped and rolled back (``None`` when the cancel came between two migrations).
    """

    done: list[tuple[MigrationStep, float]] = field(default_factory=list)  # (step, seconds)
    failed: MigrationStep | None = None
    error: str | None = None
    cancelled: bool = False
    interrupted: MigrationStep | None = None

    @property
    def success(self) -> bool:
        return self.failed is None and not self.cancelled


def discover(root: Path) -> list[Migration]:
    """The migrations in ``root/migrations``, by version; malformed names are errors."""
    folder = root / MIGRATIONS_DIR
    if not folder.is_dir():
        return []
    ups: dict[int, tuple[str, Path]] = {}
    downs: dict[int, tuple[str, Path]] = {}
    for path in sorted(folder.glob("*.sql")):
        rel = f"{MIGRATIONS_DIR}/{path.name}"
        match = _FILE.match(path.name)
        if match is None:
            raise MigrationError(
                "migration file name does not start with a version number",
                file=rel,
                hint="name migrations NNN_name.up.sql (+ NNN_name.down.sql), e.g. "
                "001_create_customers.up.sql",
            )
        version, name = int(match["version"]), match["name"]
        found = downs if match["direction"] == "down" else ups
        if version in found:
            raise MigrationError(
                f"two migration files have version {version}: {found[version][1].name} and "
                f"{path.name}",
                file=rel,
                hint="give each migration its own number",
            )
        found[version] = (name, path)
    out = []
    for version, (name, down) in downs.items():
        if version not in ups:
            raise MigrationError(
                f"down file without an up file (expected {version:03d}_{name}.up.sql)",
                file=f"{MIGRATIONS_DIR}/{down.name}",
            )
        if ups[version][0] != name:
            raise MigrationError(
                f"the down file is named '{name}' but its up file '{ups[version][0]}'",
                file=f"{MIGRATIONS_DIR}/{down.name}",
                hint="give the up and down files of one migration the same name",
            )
    for version in sorted(ups):
        name, up = ups[version]
        out.append(Migration(version, name, up, downs.get(version, (name, None))[1]))
    return out


def read_script(path: Path, root: Path) -> tuple[str, dict[str, str]]:
    """A migration file's SQL and its ``-- @key: value`` header (only above the SQL)."""
    rel = _relative(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MigrationError(f"cannot read migration file: {exc}", file=rel) from None
    header: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            break
        match = _HEADER.match(line)
        if match is None:
            continue
        key, value = match.group(1), match.group(2).strip("'\"")
        if key not in HEADER_KEYS:
            raise MigrationError(
                f"unknown header '@{key}'",
                file=rel,
                line=number,
                hint=f"migration headers: {', '.join('@' + k for k in HEADER_KEYS)}",
            )
        header[key] = value
    return text, header


def _has_sql(text: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in text.splitlines())


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


class Migrator:
    """Plans and runs a project's migrations in its environment."""

    def __init__(self, project: Project, store: StateStore | None = None) -> None:
        from interlace.opening import open_state

        self.project = project
        self.env = project.env
        self._own_store = store is None
        self.store: StateStore = store if store is not None else open_state(project)
        self.migrations = discover(project.root)
        self._cancelled = threading.Event()
        self._session: Session | None = None
        self._session_lock = threading.Lock()

    def close(self) -> None:
        if self._own_store:
            self.store.close()

    def __enter__(self) -> Migrator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ what is there

    def applied(self) -> dict[int, AppliedMigration]:
        return {a.version: a for a in self.store.applied_migrations(self.env)}

    def status(self) -> list[MigrationStatus]:
        """Every migration on disk or in the state store, by version."""
        applied = self.applied()
        on_disk = {m.version: m for m in self.migrations}
        out = []
        for version in sorted(set(applied) | set(on_disk)):
            migration, record = on_disk.get(version), applied.get(version)
            state: MigrationState
            if migration is None:
                state = "missing"
            elif record is None:
                state = "pending"
            elif record.checksum != migration.checksum:
                state = "changed"
            else:
                state = "applied"
            name = migration.name if migration else record.name if record else ""
            out.append(MigrationStatus(version, name, state, migration, record))
        return out

    def warnings(self) -> list[str]:
        """Applied migrations whose file changed or disappeared since."""
        out = []
        for s in self.status():
            if s.state == "changed" and s.migration is not None:
                out.append(
                    f"migration {s.migration.label} changed after it was applied in env "
                    f"'{self.env}' ({_relative(s.migration.up, self.project.root)}); the change "
                    "is not applied: write a new migration instead"
                )
            elif s.state == "missing":
                out.append(
                    f"migration {s.version:03d}_{s.name} is applied in env '{self.env}' but its "
                    f"file is gone from {MIGRATIONS_DIR}/"
                )
        return out

    # ------------------------------------------------------------------ planning

    def plan(self, *, to: int | None = None, rollback: bool = False) -> list[MigrationStep]:
        """The steps to run: all pending (default), up/down to version ``to`` (0 = undo
        everything), or the newest applied migration's down file (``rollback``)."""
        applied = self.applied()
        by_version = {m.version: m for m in self.migrations}
        if rollback:
            if to is not None:
                raise MigrationError("give either --rollback or --to, not both")
            if not applied:
                raise MigrationError(
                    f"no migration is applied in env '{self.env}'; nothing to roll back"
                )
            return self._down([max(applied)], by_version)
        if to is not None and to != 0 and to not in by_version:
            known = ", ".join(str(v) for v in sorted(by_version)) or "none"
            raise MigrationError(
                f"there is no migration with version {to}",
                hint=f"versions in {MIGRATIONS_DIR}/: {known} (0 rolls back every migration)",
            )
        if to is not None and applied and to < max(applied):
            return self._down(sorted((v for v in applied if v > to), reverse=True), by_version)
        pending = [
            m
            for m in self.migrations
            if m.version not in applied and (to is None or m.version <= to)
        ]
        return [self._step(m, "up") for m in pending]

    def _down(self, versions: list[int], by_version: dict[int, Migration]) -> list[MigrationStep]:
        steps = []
        for version in versions:
            migration = by_version.get(version)
            if migration is None:
                record = self.applied()[version]
                raise MigrationError(
                    f"migration {version:03d}_{record.name} is applied but its files are gone "
                    f"from {MIGRATIONS_DIR}/, so it cannot be rolled back",
                    hint="restore its .up.sql and .down.sql files",
                )
            if migration.down is None:
                raise MigrationError(
                    f"migration {migration.label} has no down file, so it cannot be rolled back",
                    file=_relative(migration.up, self.project.root),
                    hint=f"add {MIGRATIONS_DIR}/{migration.label}.down.sql that undoes it",
                )
            steps.append(self._step(migration, "down"))
        return steps

    def _step(self, migration: Migration, direction: Direction) -> MigrationStep:
        path = migration.up if direction == "up" else migration.down
        assert path is not None
        sql, header = read_script(path, self.project.root)
        config = self.project.config
        connection = header.get("connection") or config.default_connection
        rel = _relative(path, self.project.root)
        if connection not in config.connections:
            raise MigrationError(
                f"@connection names '{connection}', which is not configured",
                file=rel,
                hint=f"configured connections: {', '.join(config.connections)}",
            )
        if config.connections[connection].access == "read":
            raise MigrationError(
                f"connection '{connection}' is read-only (access: read); migrations write",
                file=rel,
                hint="run the migration on a writable connection (-- @connection: name)",
            )
        return MigrationStep(migration, direction, path, sql, connection)

    # ------------------------------------------------------------------ running

    def cancel(self) -> None:
        """Stop :meth:`run` from another thread (Ctrl-C): the migration in flight is interrupted
        and rolled back, later ones do not run. Migrations already committed stay applied."""
        self._cancelled.set()
        with self._session_lock:
            if self._session is not None:
                self._session.interrupt()

    def run(self, steps: list[MigrationStep]) -> MigrationOutcome:
        """Run ``steps`` in order, each in its own transaction; stop at the first failure."""
        from interlace.opening import open_engines

        outcome = MigrationOutcome()
        if not steps:
            return outcome
        engines: dict[str, Engine] = open_engines(self.project, {s.connection for s in steps})
        try:
            for step in steps:
                if self._cancelled.is_set():
                    outcome.cancelled = True
                    break
                started = time.perf_counter()
                error = self._apply(step, engines[step.connection], started)
                if error is not None and self._cancelled.is_set():
                    outcome.cancelled, outcome.interrupted = True, step
                    break
                if error is not None:
                    outcome.failed, outcome.error = step, error
                    break
                outcome.done.append((step, time.perf_counter() - started))
        finally:
            for engine in engines.values():
                engine.close()
        return outcome

    def _apply(self, step: MigrationStep, engine: Engine, started: float) -> str | None:
        from interlace.state.base import AppliedMigration

        version = step.migration.version
        previous = self.applied().get(version)
        recorded = False
        session = engine.session()
        with self._session_lock:
            self._session = session
        try:
            with session.transaction():
                if _has_sql(step.sql):
                    session.execute(step.sql)
                if self._cancelled.is_set():  # cancelled after the SQL, before the commit
                    raise _Cancelled
                # recorded inside the database transaction: a failed record rolls the SQL back
                if step.direction == "up":
                    self.store.record_migration(
                        self.env,
                        AppliedMigration(
                            version=version,
                            name=step.migration.name,
                            checksum=step.migration.checksum,
                            connection=step.connection,
                            applied_at=time.time(),
                            duration=time.perf_counter() - started,
                        ),
                    )
                else:
                    self.store.remove_migration(self.env, version)
                recorded = True
        except Exception as exc:
            if recorded:  # the commit itself failed: put the record back as it was
                if previous is None:
                    self.store.remove_migration(self.env, version)
                else:
                    self.store.record_migration(self.env, previous)
            detail = first_line(exc)
            return detail if ":" in detail else f"{type(exc).__name__}: {detail}"
        finally:
            with self._session_lock:
                self._session = None
            session.close()
        return None


class _Cancelled(Exception):
    """Rolls back the migration in flight after :meth:`Migrator.cancel`."""


def migrate(
    project: Project,
    *,
    to: int | None = None,
    rollback: bool = False,
    store: StateStore | None = None,
) -> MigrationOutcome:
    """Apply pending migrations (or move to version ``to``, or roll back the newest one).

    Raises :class:`MigrationError` when the plan is impossible (missing version, no down file);
    a migration that fails is reported in the outcome, after the ones that succeeded.
    """
    with Migrator(project, store) as migrator:
        return migrator.run(migrator.plan(to=to, rollback=rollback))


__all__ = [
    "Migration",
    "MigrationError",
    "MigrationOutcome",
    "MigrationStatus",
    "MigrationStep",
    "Migrator",
    "discover",
    "migrate",
]
