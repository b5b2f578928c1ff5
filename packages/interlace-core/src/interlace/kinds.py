"""Model kinds: new kinds of node that installed distributions add to projects.

Core knows two kinds of model: Python (``@model``) and SQL (``models/**/*.sql``). A distribution
adds another (a stream is the first) by returning :class:`ModelKind` objects from the
``model_kinds()`` function of its ``interlace.hooks`` entry point (:mod:`interlace.hooks`), with
no edit to core: the project loader asks each kind which module-level values of Python model
files (and which files, by suffix) declare one of its nodes, and each node then takes part in the
graph, selection, ``interlace info``, change detection and the state store like any model.

A node of an added kind is either

- a **source** (its :class:`Declaration` has no ``build``): a table that something outside runs
  fills (a stream's table is filled by ingestion). Runs never execute it, they skip it and say
  why; its readers read its table like any model's, and run again when the kind's
  :meth:`ModelKind.data_version` of it moves; or
- **built** (``build=`` a function): the executor calls it the way it calls a Python model's
  function (parameters named like models receive them, ``context`` the run context) and
  materializes what it returns.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from interlace.errors import ExtensionError, InterlaceError
from interlace.hooks import REINSTALL, Hook, broken_hooks, provided
from interlace.spec import BUILTIN_KINDS

if TYPE_CHECKING:
    from pathlib import Path

    from interlace.engines.base import Session
    from interlace.project import Project
    from interlace.spec import ModelOptions, ModelSpec
    from interlace.state.base import StateStore

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CORE_SUFFIXES = (".py", ".sql")


@dataclass(frozen=True, kw_only=True)
class Declaration:
    """One node a model file declares, as its kind reads it; the loader applies the project's
    defaults (connection, schema, ...) and makes the node's :class:`~interlace.spec.ModelSpec`.

    ``options`` are model options, validated like ``@model`` keywords (``schema``,
    ``connection``, ``dependencies``, ``fields``, ``tags``, ``description``, ...; a source's
    ``materialize`` is ``table`` and its ``strategy`` ``append``). ``definition`` is kept as
    ``ModelSpec.definition`` for the kind's other methods. ``file`` is the file that made the
    object, when the kind knows it (a value imported into another model file is then declared
    only where it was made); ``line`` is where errors point.
    """

    name: str
    options: Mapping[str, Any] | ModelOptions = field(default_factory=dict)
    definition: Any = None
    file: str | None = None
    line: int | None = None
    build: Callable[..., Any] | None = None


@dataclass(frozen=True, kw_only=True)
class SourceContext:
    """What :meth:`ModelKind.data_version` may read: the run's project and state store, and a
    session on the node's connection (open for the call only)."""

    project: Project
    store: StateStore
    session: Session

    @property
    def env(self) -> str:
        return self.project.env


class ModelKind(ABC):
    """A kind of node that an installed distribution adds to projects.

    Subclass it, set ``name`` (what ``interlace info`` shows as the node's kind) and implement
    :meth:`declaration` and :meth:`fingerprint`; a source kind also implements
    :meth:`data_version`, a kind declared in files of its own sets ``suffixes`` and implements
    :meth:`load_file`. Return instances from the ``model_kinds()`` function of an
    ``interlace.hooks`` entry point. Methods run while a project loads (or, for
    :meth:`data_version`, when a run starts): keep them quick and free of side effects.

    Example: a kind for tables an outside loader fills, declared in a model file as
    ``orders = SourceTable(schema="raw")``::

        from dataclasses import dataclass

        from interlace.kinds import Declaration, ModelKind


        @dataclass(frozen=True)
        class SourceTable:
            schema: str


        class SourceTableKind(ModelKind):
            name = "source_table"

            def declaration(self, name, value):
                if not isinstance(value, SourceTable):
                    return None
                return Declaration(name=name, options={"schema": value.schema}, definition=value)

            def fingerprint(self, spec):
                return repr(spec.definition)  # editing the declaration re-runs its readers

            def data_version(self, spec, context):
                row = context.session.fetch_one(f"select count(*) from {spec.qualified_name}")
                return None if row is None else int(row[0])  # more rows: readers run again


        def model_kinds():  # in the distribution's interlace.hooks module
            return [SourceTableKind()]

    A SQL model reading ``select * from orders`` then runs after it, reads its table, and runs
    again when its row count changes or its declaration is edited.
    """

    #: the node kind's name (``ModelSpec.kind``), unique among installed kinds
    name: ClassVar[str]
    #: file name endings under ``models/`` whose files :meth:`load_file` reads
    #: (``(".stream.yaml",)``); ``.py`` and ``.sql`` belong to core
    suffixes: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def declaration(self, name: str, value: Any) -> Declaration | None:
        """The node that ``value``, bound to ``name`` at module level in a Python model file,
        declares; ``None`` when it is none of this kind's (most values are not). Raise an
        :class:`~interlace.errors.ModelDefinitionError` for a declaration that is wrong."""

    @abstractmethod
    def fingerprint(self, spec: ModelSpec) -> str:
        """Text that changes exactly when the declaration changes what readers get (so they
        run again): e.g. the declared fields and options, never a memory address. The model
        options, the resolved schema/connection and a build function's source are added by
        core."""

    def data_version(self, spec: ModelSpec, context: SourceContext) -> int | None:
        """For a source: a number that changes when new data arrived (a stream's committed
        offset), read when a run starts; its readers run again when it differs from what they
        last read. ``None`` (the default) means the kind cannot tell: its readers run every
        time, like models that read outside data (their ``cache=`` applies)."""
        return None

    def load_file(self, path: Path) -> list[Declaration]:
        """The nodes a file under ``models/`` whose name ends with one of :attr:`suffixes`
        declares (``file`` and ``line`` of each say where errors point)."""
        raise NotImplementedError(
            f"model kind '{self.name}' lists suffixes {self.suffixes} but defines no load_file()"
        )

    def config_declarations(self, sections: Mapping[str, Any]) -> list[Declaration]:
        """The nodes the project's config declares (``streams:`` in ``config.yaml``):
        ``sections`` are the config sections installed distributions validated
        (``LoadedConfig.sections``, see ``config_sections()`` in :mod:`interlace.hooks`).
        Default: none."""
        return []


@dataclass(frozen=True)
class InstalledKind:
    """A model kind and the extension that provides it. Its methods call the kind's, and turn
    an unexpected exception into an error naming the kind, the extension and the model."""

    kind: ModelKind
    hook: Hook

    @property
    def name(self) -> str:
        return self.kind.name

    def describe(self) -> str:
        return f"model kind '{self.kind.name}' of {self.hook.describe()}"

    @contextmanager
    def _calling(
        self,
        method: str,
        *,
        file: str | None,
        line: int | None = None,
        model: str | None = None,
    ) -> Iterator[None]:
        try:
            yield
        except InterlaceError as exc:  # the kind's own error about a declaration: keep it
            if exc.file is None and file is not None:
                exc.file, exc.line = file, exc.line or line
            exc.model = exc.model or model
            exc.args = (exc.render(),)
            raise
        except Exception as exc:
            raise self.failed(
                f"failed in {method}: {type(exc).__name__}: {exc}",
                file=file,
                line=line,
                model=model,
            ) from exc

    def failed(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        model: str | None = None,
    ) -> ExtensionError:
        return ExtensionError(
            f"{self.describe()} {message}",
            file=file,
            line=line,
            model=model,
            hint=f"this is a bug in the extension: {REINSTALL}",
        )

    def declaration(self, name: str, value: Any, *, file: str) -> Declaration | None:
        with self._calling(f"declaration() of '{name}'", file=file):
            found = self.kind.declaration(name, value)
        if found is not None and not isinstance(found, Declaration):
            raise self.failed(
                f"returned {type(found).__name__} from declaration() for '{name}', not an "
                "interlace.kinds.Declaration or None",
                file=file,
            )
        return found

    def load_file(self, path: Path, *, file: str) -> list[Declaration]:
        with self._calling("load_file()", file=file):
            found = list(self.kind.load_file(path))
        for item in found:
            if not isinstance(item, Declaration):
                raise self.failed(
                    f"returned {type(item).__name__} from load_file(), not an "
                    "interlace.kinds.Declaration",
                    file=file,
                )
        return found

    def config_declarations(self, sections: Mapping[str, Any], *, file: str) -> list[Declaration]:
        with self._calling("config_declarations()", file=file):
            found = list(self.kind.config_declarations(sections))
        for item in found:
            if not isinstance(item, Declaration):
                raise self.failed(
                    f"returned {type(item).__name__} from config_declarations(), not an "
                    "interlace.kinds.Declaration",
                    file=file,
                )
        return found

    def fingerprint(self, spec: ModelSpec) -> str:
        with self._calling("fingerprint()", file=spec.file, line=spec.line, model=spec.name):
            text = self.kind.fingerprint(spec)
        if not isinstance(text, str):
            raise self.failed(
                f"returned {type(text).__name__} from fingerprint() for '{spec.name}', not str",
                file=spec.file,
                line=spec.line,
            )
        return text

    def data_version(self, spec: ModelSpec, context: SourceContext) -> int | None:
        with self._calling("data_version()", file=spec.file, line=spec.line, model=spec.name):
            version = self.kind.data_version(spec, context)
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise self.failed(
                f"returned {version!r} from data_version() for '{spec.name}', not an int or None",
                file=spec.file,
                line=spec.line,
            )
        return version


@dataclass(frozen=True)
class InstalledKinds:
    """The model kinds of the installed extensions by name, and the extensions that failed to
    import (the loader needs none of theirs unless a project uses them)."""

    by_name: dict[str, InstalledKind]
    broken: tuple[Hook, ...] = ()

    def note(self) -> str | None:
        """What to add to a load error's hint while an extension is broken."""
        if not self.broken:
            return None
        return "; ".join(f"{hook.describe()} failed to load ({hook.error})" for hook in self.broken)


def installed_kinds() -> InstalledKinds:
    """The model kinds installed distributions add (``model_kinds()`` of each
    ``interlace.hooks`` entry point), checked: each is a :class:`ModelKind` instance with a
    unique name and suffixes of its own. Entry points are read once per process."""
    found: dict[str, InstalledKind] = {}
    suffixes: dict[str, InstalledKind] = {}
    for hook, kind in provided("model_kinds", skip_broken=True):
        if not isinstance(kind, ModelKind):
            what = (
                f"the class {kind.__name__}"
                if isinstance(kind, type)
                else f"{type(kind).__name__} {kind!r}"
            )
            raise ExtensionError(
                f"{hook.describe()} returned {what} from model_kinds(), not an "
                "interlace.kinds.ModelKind instance",
                hint=f"model_kinds() returns instances, e.g. [MyKind()]; {REINSTALL}",
            )
        installed = InstalledKind(kind, hook)
        name = getattr(kind, "name", None)
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise installed.failed(f"has the invalid name {name!r}: use letters, digits and _")
        if name in BUILTIN_KINDS:
            raise installed.failed(f"reuses the built-in kind name '{name}'")
        if name in found:
            raise ExtensionError(
                f"two extensions add the model kind '{name}': {found[name].hook.describe()} "
                f"and {hook.describe()}",
                hint="uninstall one of the distributions that provide them",
            )
        for suffix in kind.suffixes:
            if not suffix.startswith(".") or suffix.endswith(_CORE_SUFFIXES):
                raise installed.failed(
                    f"claims the file suffix {suffix!r}: a suffix starts with '.' and does "
                    "not end with .py or .sql (those are core's)"
                )
            if suffix in suffixes:
                raise ExtensionError(
                    f"{installed.describe()} and {suffixes[suffix].describe()} both read "
                    f"'{suffix}' files",
                    hint="uninstall one of the distributions that provide them",
                )
            suffixes[suffix] = installed
        found[name] = installed
    return InstalledKinds(found, tuple(broken_hooks()))


__all__ = ["Declaration", "InstalledKind", "ModelKind", "SourceContext", "installed_kinds"]
