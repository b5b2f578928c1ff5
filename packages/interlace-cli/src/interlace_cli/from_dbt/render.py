"""Rendering dbt's Jinja with a real Jinja renderer (jinja2, sandboxed), the way dbt compiles.

``ref()`` renders the table name, ``source()`` the source's ``schema.table``, ``config()``
records the node's configuration (it becomes header lines), ``var()`` reads the project's vars,
``is_incremental()`` is false (an Interlace model's query is the whole query; its strategy does
the incremental work), and the project's own macros (``macros/``) are callable, with
``adapter.dispatch`` choosing ``duckdb__``/``default__`` implementations. Loops and conditions
render as dbt would. Anything else (a package's macro, ``run_query``) stops the node with an
:class:`Unconvertible` naming the line, and the node is reported.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.ext import Extension
from jinja2.loaders import FunctionLoader
from jinja2.sandbox import SandboxedEnvironment

if TYPE_CHECKING:
    from jinja2.parser import Parser

    from interlace_cli.from_dbt.project import DbtProject
    from interlace_cli.from_dbt.report import Report


class Unconvertible(Exception):
    """A node whose Jinja cannot be rendered here."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line


class _MacroReturn(Exception):
    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


@dataclass
class Block:
    """A ``{% snapshot name %}`` or ``{% docs name %}`` block of a file."""

    tag: str
    name: str
    line: int
    body: str
    config: dict[str, Any] = field(default_factory=dict)
    config_line: int | None = None


@dataclass
class Rendered:
    """A node's rendered SQL and what its ``config()`` calls said."""

    sql: str
    config: dict[str, Any]
    config_line: int | None
    refs: list[str]


class _Blocks(Extension):
    """dbt's block tags: ``snapshot`` and ``docs`` bodies are rendered and kept; ``test`` and
    ``materialization`` definitions are skipped (they are parsed, never run)."""

    tags = {"snapshot", "docs", "test", "data_test", "materialization"}

    def parse(self, parser: Parser) -> nodes.Node:
        token = next(parser.stream)
        tag = str(token.value)
        name = str(parser.stream.expect("name").value)
        while parser.stream.current.type != "block_end":  # (model, column_name), adapter=...
            next(parser.stream)
        body = parser.parse_statements((f"name:end{tag}",), drop_needle=True)
        call = self.call_method(
            "_capture", [nodes.Const(tag), nodes.Const(name), nodes.Const(token.lineno)]
        )
        return nodes.CallBlock(call, [], [], body).set_lineno(token.lineno)

    def _capture(self, tag: str, name: str, line: int, caller: Callable[[], str]) -> str:
        state: RenderState = self.environment.globals["__dbt_state__"]  # type: ignore[assignment]
        if tag in ("snapshot", "docs"):
            block = Block(tag, name, line, "")
            state.block = block
            try:
                block.body = caller()
            finally:
                state.block = None
            state.blocks.append(block)
        return ""


@dataclass
class RenderState:
    """What the dbt functions record while one file renders."""

    node: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    config_line: int | None = None
    refs: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    block: Block | None = None


def template_line() -> tuple[str | None, int | None]:
    """The template and line being rendered (for the functions below, called from it)."""
    frame = inspect.currentframe()
    while frame is not None:
        template = frame.f_globals.get("__jinja_template__")
        if template is not None:
            return template.name, template.get_corresponding_lineno(frame.f_lineno)
        frame = frame.f_back
    return None, None


class _Namespace:
    """An object whose attributes are given (``target.name``, ``adapter.dispatch``)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


class Renderer:
    """Renders the files of one dbt project; ``names`` maps a ref'd node to its table name
    and ``sources`` a ``(source, table)`` to its ``schema.table``."""

    def __init__(
        self,
        dbt: DbtProject,
        report: Report,
        *,
        names: dict[str, str],
        sources: dict[tuple[str, str], str],
    ) -> None:
        self.dbt = dbt
        self.report = report
        self.names = names
        self.sources = sources
        self.texts: dict[str, str] = {}
        self.state = RenderState()
        self.docs: dict[str, str] = {}
        self.env = SandboxedEnvironment(
            loader=FunctionLoader(self._source),
            undefined=StrictUndefined,
            extensions=[_Blocks, "jinja2.ext.do", "jinja2.ext.loopcontrols"],
            keep_trailing_newline=True,
            cache_size=0,  # templates are rendered once; values from YAML reuse names
        )
        self.macros: dict[str, Callable[..., Any]] = {}
        self.env.globals.update(self._functions())
        self._load_macros()
        self._load_docs()

    def _source(self, name: str) -> tuple[str, str, Callable[[], bool]] | None:
        """A file's text for jinja2, named by its path (so errors carry file and line)."""
        text = self.texts.get(name)
        return None if text is None else (text, name, lambda: False)

    # ------------------------------------------------------------------ dbt's context

    def _functions(self) -> dict[str, Any]:
        state = self.state

        def ref(*args: str, **kwargs: Any) -> str:
            if not args:
                raise Unconvertible("ref() without a model name", *template_line())
            name = str(args[-1])
            state.refs.append(name)
            if name not in self.names:
                file, line = template_line()
                self.report.add(
                    file or "?",
                    line,
                    f"ref('{name}') names no model, seed or snapshot of the project",
                    "write the table it means",
                )
            return self.names.get(name, name)

        def source(source_name: str, table_name: str) -> str:
            found = self.sources.get((source_name, table_name))
            if found is None:
                file, line = template_line()
                self.report.add(
                    file or "?",
                    line,
                    f"source('{source_name}', '{table_name}') is not declared in a sources: file",
                    f"it was written as {source_name}.{table_name}",
                )
                return f"{source_name}.{table_name}"
            return found

        def config(*args: Any, **kwargs: Any) -> str:
            target = state.block.config if state.block is not None else state.config
            if args and isinstance(args[0], dict):
                target.update(args[0])
            target.update(kwargs)
            line = template_line()[1]
            if state.block is not None:
                state.block.config_line = line
            else:
                state.config_line = line
            return ""

        def var(name: str, *default: Any) -> Any:
            found, value = self.dbt.var(name)
            if found:
                return value
            if default:
                return default[0]
            raise Unconvertible(
                f"var('{name}') has no value in dbt_project.yml and no default", *template_line()
            )

        def env_var(name: str, *default: Any) -> Any:
            import os

            if name in os.environ:
                return os.environ[name]
            if default:
                return default[0]
            raise Unconvertible(
                f"env_var('{name}') is not set and has no default", *template_line()
            )

        def dispatch(name: str, macro_namespace: str | None = None) -> Callable[..., Any]:
            for prefix in ("duckdb__", "default__", ""):
                found = self.macros.get(prefix + name)
                if found is not None:
                    return found
            raise Unconvertible(
                f"adapter.dispatch('{name}') finds no macro duckdb__{name} or default__{name} "
                "in the project's macros",
                *template_line(),
            )

        def raise_error(message: str, *args: Any) -> None:
            raise Unconvertible(f"the template raises: {message}", *template_line())

        def do_return(value: Any) -> None:
            raise _MacroReturn(value)

        this = _This(state, self.names)
        return {
            "__dbt_state__": state,
            "ref": ref,
            "source": source,
            "config": config,
            "var": var,
            "env_var": env_var,
            "is_incremental": lambda: False,
            "this": this,
            "execute": True,
            "flags": _Namespace(FULL_REFRESH=False, WHICH="run"),
            "target": _Namespace(
                name="dev", type="duckdb", schema="main", database="", threads=4, profile_name=""
            ),
            "adapter": _Namespace(dispatch=dispatch),
            "exceptions": _Namespace(raise_compiler_error=raise_error, warn=lambda *a: ""),
            "log": lambda *args, **kwargs: "",
            "print": lambda *args, **kwargs: "",
            "return": do_return,
            "doc": self._doc,
            "project_name": self.dbt.name,
        }

    def _doc(self, *args: str) -> str:
        name = str(args[-1]) if args else ""
        if name not in self.docs:
            raise Unconvertible(f"doc('{name}') names no {{% docs %}} block", *template_line())
        return self.docs[name]

    def _load_macros(self) -> None:
        """Make the project's macros callable from every template (and from each other)."""
        for path in self.dbt.files(self.dbt.macro_paths, (".sql",)):
            rel = self.dbt.rel(path)
            self.texts[rel] = path.read_text(encoding="utf-8")
            try:
                module = self.env.get_template(rel).make_module()
            except TemplateError as exc:
                file, line = _error_location(exc, rel)
                self.report.add(
                    file,
                    line,
                    f"the macros of this file are not available: {_message(exc)}",
                    "models that call them are reported below",
                )
                continue
            for name in dir(module):
                value = getattr(module, name)
                if not name.startswith("_") and callable(value):
                    self.macros[name] = _returning(value)
        self.env.globals.update(self.macros)

    def _load_docs(self) -> None:
        """``{% docs name %}`` blocks of the project's .md files, for ``doc()``."""
        for path in self.dbt.files(self.dbt.docs_paths, (".md",)):
            rel = self.dbt.rel(path)
            text = path.read_text(encoding="utf-8")
            if "{% docs" not in text and "{%- docs" not in text:
                continue
            try:
                blocks = self._render_blocks(rel, text)
            except Unconvertible as exc:
                self.report.add(exc.file or rel, exc.line, f"docs not read: {exc.message}")
                continue
            for block in blocks:
                if block.tag == "docs":
                    self.docs[block.name] = block.body.strip()

    # ------------------------------------------------------------------ rendering

    def render(self, rel: str, text: str, node: str) -> Rendered:
        """Render a model (or any node file): its SQL and its ``config()``."""
        self.state.node = node
        self.state.config = {}
        self.state.config_line = None
        self.state.refs = []
        sql = self._render(rel, text)
        return Rendered(sql, dict(self.state.config), self.state.config_line, list(self.state.refs))

    def _render_blocks(self, rel: str, text: str) -> list[Block]:
        self.state.blocks = []
        self._render(rel, text)
        return list(self.state.blocks)

    def snapshots(self, rel: str, text: str) -> list[Block]:
        """The ``{% snapshot %}`` blocks of a file, each with its rendered SQL and config."""
        self.state.refs = []
        return [b for b in self._render_blocks(rel, text) if b.tag == "snapshot"]

    def block_names(self, rel: str, text: str, tag: str) -> list[str]:
        """The names of a file's ``{% tag name %}`` blocks (parsed, not rendered)."""
        try:
            tree = self.env.parse(text, rel)
        except TemplateSyntaxError:
            return []  # reported when the file renders
        names = []
        for block in tree.find_all(nodes.CallBlock):
            args = getattr(block.call, "args", [])
            if (
                len(args) >= 2
                and isinstance(args[0], nodes.Const)
                and args[0].value == tag
                and isinstance(args[1], nodes.Const)
            ):
                names.append(str(args[1].value))
        return names

    def value(self, text: str, where: tuple[str, int | None]) -> str:
        """A Jinja expression or string from YAML (``ref('customers')``,
        ``'{{ doc("orders") }}'``) rendered to text."""
        rel = f"{where[0]}#{where[1] or 0}"
        self.texts[rel] = text
        try:
            return self._render(rel, text).strip()
        except Unconvertible as exc:
            raise Unconvertible(exc.message, where[0], where[1]) from None
        finally:
            self.texts.pop(rel, None)

    def _render(self, rel: str, text: str) -> str:
        self.texts[rel] = text
        try:
            return self.env.get_template(rel).render()
        except Unconvertible as exc:
            if exc.file is None or exc.file.startswith(rel):
                exc.file, exc.line = _plain(rel, exc.line)
            raise
        except _MacroReturn as exc:
            return str(exc.value)
        except TemplateError as exc:
            file, line = _error_location(exc, rel)
            raise Unconvertible(_message(exc), *_plain(file, line)) from None


class _This:
    """``{{ this }}``: the node's own table."""

    def __init__(self, state: RenderState, names: dict[str, str]) -> None:
        self._state = state
        self._names = names

    def __str__(self) -> str:
        return self._names.get(self._state.node, self._state.node)

    @property
    def identifier(self) -> str:
        return str(self).rsplit(".", 1)[-1]

    @property
    def name(self) -> str:
        return self.identifier


def _returning(macro: Callable[..., Any]) -> Callable[..., Any]:
    """A macro whose ``{{ return(x) }}`` gives ``x``, as in dbt."""

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return macro(*args, **kwargs)
        except _MacroReturn as exc:
            return exc.value

    return call


def _plain(rel: str, line: int | None) -> tuple[str, int | None]:
    """A value rendered from YAML is named ``file#line``: report the YAML file and line."""
    if "#" in rel:
        file, _, at = rel.rpartition("#")
        return file, int(at) or line
    return rel, line


def _error_location(exc: TemplateError, rel: str) -> tuple[str, int | None]:
    if isinstance(exc, TemplateSyntaxError):
        return exc.name or rel, exc.lineno
    import traceback

    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename and not frame.filename.endswith(".py") and frame.filename != "<template>":
            return frame.filename, frame.lineno
    return rel, None


def _message(exc: TemplateError) -> str:
    if isinstance(exc, UndefinedError):
        name = str(exc.message or exc).split("'")
        what = name[1] if len(name) > 2 else str(exc)
        return (
            f"{exc.message}: `{what}` is not a dbt built-in this converter renders (a package's "
            "macro, or a function needing a database)"
        )
    return f"{type(exc).__name__}: {exc.message or exc}"


__all__ = ["Block", "Rendered", "Renderer", "Unconvertible"]
