"""The configuration reference page, generated from the pydantic models that validate a
project's config file.

Every key of :class:`interlace.config.ProjectConfig` and of the models under it, each connection
type and state store type that an installed distribution registers (entry points
``interlace.connections`` and ``interlace.state``) and each top-level section an installed
extension defines: the key, its type, its default and constraints, and what it means, from the
field's ``description`` (``Field(description=...)`` or the docstring under the field), else
from the configuration guide's key tables, else from the comment the code has beside or above
the field. A section that is a mapping or a list itself (a pydantic ``RootModel``) shows what
its entries are.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import re
import textwrap
import tokenize
import types
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import annotated_types
from pydantic import BaseModel, RootModel
from pydantic_core import PydanticUndefined

from sitegen.distributions import distribution_of
from sitegen.docstrings import to_markdown

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

INTRO = """\
# Configuration reference

Every key of `config.yaml` (and of its `config.ENV.yaml` overlays), generated from the models
that validate it when this site was built: connection and state store types and sections that
installed distributions add are included. Every key is optional unless it says *required*;
an unknown key is an error. The [configuration guide](../configuration.md) explains how the
file is read (overlays, `${VAR}`, `{env}`) with examples.
"""

# Sections that a server reads from the config file before its distribution declares them
# through `config_sections()` (interlace.hooks): key -> "module:Model".
# comments that talk to tools, not to readers
PRAGMAS = ("type:", "noqa", "pragma", "pyright:", "fmt:")

READ_BY_SERVERS = {"service": "interlace_http.settings:SecuritySettings"}


@dataclass
class Section:
    """One table of keys: ``path`` is how the keys are reached (``connections.NAME``)."""

    path: str
    model: type[BaseModel]
    anchor: str
    title: str | None = None
    intro: str = ""
    exclude: frozenset[str] = frozenset()
    level: int = 2
    table: bool = True  # False: a heading and its intro only


def config_reference(guide: str = "") -> str:
    """The page (Markdown). ``guide`` is the Markdown of the configuration guide
    (docs/configuration.md): sections it explains link to it."""
    from interlace.config import ProjectConfig

    page = Page(guide_sections(guide), guide_meanings(guide))
    root = page.section("", ProjectConfig, "top-level", title="Top level")
    page.expand(root, skip=frozenset({"connections", "state"}))
    page.connections(root)
    page.state(root)
    page.extensions()
    return INTRO + "\n" + "\n".join(page.render())


def guide_sections(guide: str) -> dict[str, str]:
    """``key → anchor`` of the guide's headings that name a config key (``### `executor```)."""
    from pymdownx.slugs import slugify  # as mkdocs.yml configures the toc extension

    slug = slugify(case="lower")
    found = {}
    for match in re.finditer(r"^#{2,4} `([\w.]+)`\s*$", guide, re.M):
        found[match[1]] = str(slug(f"<code>{match[1]}</code>", "-"))
    return found


def guide_meanings(guide: str) -> dict[tuple[str, str], str]:
    """``(section, key) → meaning`` from the guide's key tables (``| `key` | ... | meaning |``
    under ``### `section``` or ``### Top level``), its links made to work from this page."""
    found: dict[tuple[str, str], str] = {}
    section: str | None = None
    for line in guide.splitlines():
        heading = re.match(r"^#{2,4} (?:`([\w.]+)`|(Top level))\s*$", line)
        if heading:
            section = heading[1] or ""
            continue
        if line.startswith("#"):
            section = None
        row = re.match(r"^\| `([\w.]+)` \|.*\| ([^|]+?) \|\s*$", line)
        if section is not None and row:
            found.setdefault((section, row[1]), _from_guide(row[2]))
    return found


def _from_guide(text: str) -> str:
    """A guide table cell with its links relative to this page (one folder down)."""

    def fix(match: re.Match[str]) -> str:
        target = match[1]
        if "://" in target:
            return match[0]
        return f"](../configuration.md{target})" if target.startswith("#") else f"](../{target})"

    return re.sub(r"\]\(([^)\s]+)\)", fix, text)


class Page:
    def __init__(
        self,
        guide: dict[str, str] | None = None,
        meanings: dict[tuple[str, str], str] | None = None,
    ) -> None:
        self.guide = guide or {}
        self.meanings = meanings or {}
        self.sections: list[Section] = []
        self.anchors: dict[type[BaseModel], str] = {}
        self.used: set[str] = set()

    # ------------------------------------------------------------------ building

    def section(self, path: str, model: type[BaseModel], anchor: str, **kw: Any) -> Section:
        anchor = self._unique(anchor)
        section = Section(path, model, anchor, **kw)
        self.sections.append(section)
        self.anchors.setdefault(model, anchor)
        return section

    def expand(self, section: Section, skip: frozenset[str] = frozenset()) -> None:
        """Add a section for every model-typed key of ``section`` (recursively); keys that
        hold the same model share one section."""
        holders: dict[type[BaseModel], list[str]] = {}
        variants: set[type[BaseModel]] = set()  # one of several models a key may hold
        for name, info in _fields(section.model, section.exclude):
            if name in skip:
                continue
            held = _nested_models(info.annotation)
            key = "" if _is_root(section.model) else _key(name, info)
            for nested, suffix in held:
                if nested not in self.anchors:
                    holders.setdefault(nested, []).append(key + suffix)
                    if len(held) > 1:
                        variants.add(nested)
        for nested, keys in holders.items():
            path = _join(section.path, keys[0])
            title = " / ".join(f"`{_join(section.path, key)}`" for key in keys)
            tag = _type_tag(nested) if nested in variants else None
            if tag is not None:
                title += f" with `type: {tag}`"
            child = self.section(
                path,
                nested,
                _anchor(path),
                title=title,
                level=min(section.level + (0 if section.path == "" else 1), 4),
                intro=_doc(nested),
            )
            self.expand(child)

    def connections(self, root: Section) -> None:
        from interlace.connection_config import ConnectionConfig
        from interlace.plugins import available_connection_types, connection_type

        common = self.section(
            "connections.NAME",
            ConnectionConfig,
            "connections",
            title="`connections`",
            intro=(
                "A mapping of connection name → settings; models pick one with their "
                "`connection` option. The keys every connection type accepts are below, then "
                "each type's own keys. Types come from `interlace-core` (`duckdb`) and from "
                "distributions that register an `interlace.connections` entry point."
            ),
        )
        self.expand(common)
        by_model: dict[type[BaseModel], list[str]] = {}
        for name in available_connection_types():
            model = connection_type(name).config_model
            by_model.setdefault(model, []).append(name)
        base = set(ConnectionConfig.model_fields)
        for model, names in sorted(by_model.items(), key=lambda kv: (kv[1][0] != "duckdb", kv[1])):
            shown = ", ".join(f"`{n}`" for n in names)
            section = self.section(
                "connections.NAME",
                model,
                _anchor(f"connection-{names[0]}"),
                title=f"`type:` {shown}",
                intro=_doc(model) + f"\n\nProvided by `{_distribution(model)}`. "
                "It also accepts the keys [every connection accepts](#connections).",
                exclude=frozenset(base - {"type"}),
                level=3,
            )
            self.expand(section)

    def state(self, root: Section) -> None:
        from importlib.metadata import entry_points

        from interlace.config import StateConfig, StateStoreConfig
        from interlace.plugins import STATE_GROUP, state_store_type

        types_: dict[str, type[BaseModel]] = {"sqlite": StateConfig}
        for ep in sorted(entry_points(group=STATE_GROUP), key=lambda ep: ep.name):
            types_[ep.name] = state_store_type(ep.name).config_model
        heading = self.section("state", StateConfig, "state", title="`state`", table=False)
        self.anchors[StateStoreConfig] = heading.anchor
        heading.intro = (
            "Where run history, watermarks, schema versions and dead letters are kept; `type` "
            "picks the store (by default SQLite, a file in the project) and each type's keys "
            "follow."
        )
        for name, model in types_.items():
            section = self.section(
                "state",
                model,
                _anchor(f"state-{name}"),
                title=f"`state.type: {name}`",
                intro=_doc(model) + f"\n\nProvided by `{_distribution(model)}`.",
                level=3,
            )
            self.expand(section)

    def extensions(self) -> None:
        import importlib

        from interlace.hooks import provided

        sections: dict[str, tuple[type[BaseModel], str]] = {}
        for hook, (key, model) in provided("config_sections", skip_broken=True):
            sections[key] = (model, f"the `{hook.name}` extension ({hook.source})")
        for key, target in READ_BY_SERVERS.items():
            module, _, name = target.partition(":")
            try:
                model = getattr(importlib.import_module(module), name)
            except ImportError:
                continue
            sections.setdefault(
                key, (model, f"`interlace serve` (settings from `{_distribution(model)}`)")
            )
        for key, (model, source) in sorted(sections.items()):
            section = self.section(
                key,
                model,
                _anchor(key),
                title=f"`{key}`",
                intro=_doc(model) + f"\n\nRead by {source}.",
                level=2,
            )
            self.expand(section)

    def _unique(self, anchor: str) -> str:
        candidate, n = anchor, 2
        while candidate in self.used:
            candidate, n = f"{anchor}-{n}", n + 1
        self.used.add(candidate)
        return candidate

    # ------------------------------------------------------------------ rendering

    def render(self) -> list[str]:
        out: list[str] = []
        linked: set[str] = set()  # guide sections already linked to
        for section in self.sections:
            title = section.title or f"`{section.path}`"
            out += [f"{'#' * section.level} {title} {{ #{section.anchor} }}", ""]
            if section.intro.strip():
                out += [section.intro.strip(), ""]
            key_path = section.path.removesuffix(".NAME")
            explained = self.guide.get(key_path) if key_path not in linked else None
            if explained:
                linked.add(key_path)
                out += [
                    f"What these keys do: [the configuration guide](../configuration.md#{explained}).",
                    "",
                ]
            rows = list(_fields(section.model, section.exclude))
            if not rows or not section.table:
                continue
            if _is_root(section.model):  # the section is a mapping or list itself
                entries = self._type(section.model.model_fields["root"].annotation)
                out += [f"`{section.path}` is a {entries}.", ""]
                continue
            out += ["| Key | Type | Default | Meaning |", "|---|---|---|---|"]
            comments = _comments(section.model)
            for name, info in rows:
                key = _key(name, info)
                meaning = (
                    info.description or self.meanings.get((key_path, key)) or comments.get(name, "")
                )
                held = _nested_models(info.annotation)
                anchor = self.anchors.get(held[0][0]) if held and held[0][1] == "" else None
                out.append(
                    f"| `{key}` | {self._type(info.annotation)}{_constraints(info)} | "
                    f"{_default(info, anchor)} | {_cell(meaning)} |"
                )
            out.append("")
        return out

    def _type(self, annotation: Any) -> str:
        return type_text(annotation, lambda model: self.anchors.get(model))


# ---------------------------------------------------------------------- model introspection


def _fields(model: type[BaseModel], exclude: frozenset[str]) -> list[tuple[str, FieldInfo]]:
    return [(n, f) for n, f in model.model_fields.items() if n not in exclude]


def _key(name: str, info: FieldInfo) -> str:
    return info.alias or name


def _is_root(model: type[BaseModel]) -> bool:
    """Whether the model is a mapping or list itself (``RootModel``), not a set of keys."""
    return issubclass(model, RootModel)


def _type_tag(model: type[BaseModel]) -> str | None:
    """The value of the model's ``type`` key when it is fixed (``type: Literal["slack"]``)."""
    info = model.model_fields.get("type")
    if info is None or typing.get_origin(info.annotation) is not typing.Literal:
        return None
    values = typing.get_args(info.annotation)
    return str(values[0]) if len(values) == 1 else None


def _nested_models(annotation: Any) -> list[tuple[type[BaseModel], str]]:
    """The models a key holds, with the path suffix (``[]`` for list items)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, "")]
    if origin is typing.Annotated:
        return _nested_models(args[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in args for m in _nested_models(a)]
    if origin in (list, tuple, set, frozenset):
        return [(m, "[]") for a in args for m, _ in _nested_models(a)]
    if origin is dict and len(args) == 2:
        return [(m, ".NAME") for m, _ in _nested_models(args[1])]
    return []


def type_text(annotation: Any, anchor_of: Any = lambda model: None) -> str:
    """A type as a reader of YAML thinks of it: ``integer``, ``list of string``, ..."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is type(None):
        return "null"
    if annotation is Any:
        return "any"
    if origin is typing.Annotated:
        return type_text(args[0], anchor_of)
    if origin is typing.Literal:
        return " or ".join(f"`{_yaml(a)}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [type_text(a, anchor_of) for a in args if a is not type(None)]
        return " or ".join(dict.fromkeys(parts))
    if origin in (list, tuple, set, frozenset):
        return f"list of {type_text(args[0], anchor_of) if args else 'any'}"
    if origin is dict:
        value = type_text(args[1], anchor_of) if len(args) == 2 else "any"
        return f"mapping of name → {value}"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            anchor = anchor_of(annotation)
            return f"[mapping](#{anchor})" if anchor else "mapping"
        simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
        if annotation in simple:
            return simple[annotation]
        named = {
            "SecretStr": "string (secret)",
            "IPv4Network": "IP network",
            "IPv6Network": "IP network",
        }
        if annotation.__name__ in named:
            return named[annotation.__name__]
        return f"`{annotation.__name__}`"
    return f"`{annotation}`"


def _constraints(info: FieldInfo) -> str:
    found = []
    marks = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    for meta in info.metadata:
        if isinstance(meta, annotated_types.BaseMetadata):
            for attr, sign in marks.items():
                value = getattr(meta, attr, None)
                if value is not None:
                    found.append(f"{sign} {value}")
        pattern = getattr(meta, "pattern", None)
        if pattern:
            found.append(f"matching `{pattern}`")
    return f", {', '.join(found)}" if found else ""


def _default(info: FieldInfo, anchor: str | None = None) -> str:
    if info.default_factory is not None:
        try:
            value = info.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "computed"
        if isinstance(value, (int, float, str, bool)):
            return "computed when the config loads"  # a constant would need no factory
    elif info.default is PydanticUndefined:
        return "*required*"
    else:
        value = info.default
    if value is None:
        return "none"
    if anchor is not None and isinstance(value, BaseModel) and _is_blank(value):
        return f"[see below](#{anchor})"  # the section's defaults are the key's defaults
    return _value(value)


def _is_blank(value: BaseModel) -> bool:
    """Whether ``value`` is its model with every default."""
    try:
        return type(value)() == value
    except ValueError:  # a model with required keys
        return False


def _value(value: Any) -> str:
    value = _plain(value)
    if value in ({}, []):
        return "empty"
    if value == "":
        return '`""`'
    return f"`{_yaml(value)}`"


def _plain(value: Any) -> Any:
    """JSON data for ``value``; a model shows only what differs from its defaults (and its
    ``type``)."""
    if isinstance(value, BaseModel):
        data = value.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        if "type" in type(value).model_fields:
            data = {"type": value.model_dump(mode="json")["type"], **data}
        return data
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _doc(model: type) -> str:
    doc = inspect.getdoc(model) or ""
    if not doc or model.__doc__ is None or doc == inspect.getdoc(BaseModel):
        return ""
    return to_markdown(doc)


def _distribution(model: type) -> str:
    return distribution_of(model.__module__)


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """The comments the code has beside or right above each field of ``model`` and of the
    models it inherits its fields from."""
    found: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if issubclass(cls, BaseModel) and cls not in (BaseModel, RootModel):
            found.update(_own_comments(cls))
    return found


def _own_comments(model: type[BaseModel]) -> dict[str, str]:
    """The comments beside or right above the fields ``model``'s own class body declares."""
    try:
        source = textwrap.dedent(inspect.getsource(model))
    except (OSError, TypeError):
        return {}
    by_line: dict[int, str] = {}
    code_lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            text = token.string.lstrip("#").strip()
            if not text.startswith(PRAGMAS):
                by_line[token.start[0]] = text
        elif token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            code_lines.add(token.start[0])
    tree = ast.parse(source)
    found: dict[str, str] = {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for node in body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above: list[str] = []
        line = node.lineno - 1
        while line in by_line and line not in code_lines:
            above.insert(0, by_line[line])
            line -= 1
        end = node.end_lineno or node.lineno
        beside = [by_line[n] for n in range(node.lineno, end + 1) if n in by_line]
        text = " ".join([*above, *beside]).strip()
        if text:
            found[node.target.id] = text
    return found


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _join(path: str, key: str) -> str:
    if key.startswith((".", "[")):  # the entries of a section that is a mapping or list
        return f"{path}{key}"
    return f"{path}.{key}" if path else key


def _anchor(path: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in path.lower()).strip("-").replace("--", "-")
