"""A griffe extension (mkdocstrings, see mkdocs.yml) that turns Interlace's docstring style into
Markdown for the API reference.

The docstrings are written to read well in a terminal and in ``help()``: ``code`` in double
backticks, Sphinx roles (``:func:`run```), literal blocks after ``Example::`` and doctest
sessions (``>>>``). Rendered as Markdown as they are, the literal blocks would lose their
highlighting, the roles would show their markup and a ``>>>`` session would run together
into one paragraph. This extension rewrites, in the copy griffe hands to mkdocstrings:

- ``text::`` + an indented block: ``text:`` + a fenced code block (Python, or TOML/YAML/shell
  when it plainly is one);
- a ``>>>`` session (up to the next blank line): a fenced ``pycon`` block;
- ``:role:`target```: a link to ``target`` when the site documents it, else inline code
  (an autorefs *optional* reference: a role never breaks the build, an explicit Markdown
  cross-reference to a missing object does).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:func|class|mod|meth|data|attr|exc|obj|const):`(~?)([^`]+)`")


class HouseStyle(griffe.Extension):
    """See the module docstring."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        _convert(obj)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        _convert(pkg)  # on_object fires for members only, not for the package itself


def _convert(obj: griffe.Object) -> None:
    docstring = obj.docstring
    if docstring is None or getattr(docstring, "_interlace_converted", False):
        return
    docstring.value = to_markdown(docstring.value, lambda name: _target(obj, name))
    docstring._interlace_converted = True  # type: ignore[attr-defined]


def _target(obj: griffe.Object, name: str) -> str:
    """The full path a role's target names, as seen from ``obj`` (best effort)."""
    name = name.lstrip(".")
    scopes = [obj, obj.parent, obj.module] if obj.parent is not None else [obj]
    for scope in scopes:
        if scope is None:
            continue
        try:
            return str(scope.resolve(name))
        except (griffe.NameResolutionError, AttributeError, KeyError):
            continue
    return name


def to_markdown(text: str, resolve: Any = lambda name: name) -> str:
    """``text`` (a docstring in the house style) as Markdown; ``resolve(name)`` gives the full
    path of a role's target.

    >>> print(to_markdown("Example::\\n\\n    run()\\n"))
    Example:
    <BLANKLINE>
    ```python
    run()
    ```
    <BLANKLINE>
    """
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    in_fence = False
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            in_fence = not in_fence
            out.append(line)
            i += 1
            continue
        if in_fence:
            out.append(line)
            i += 1
            continue
        if stripped.startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
                i += 1
            out += [f"{indent}```pycon", *(indent + b for b in block), f"{indent}```"]
            continue
        if stripped.endswith("::") and _indented_block_follows(lines, i):
            intro = line.rstrip()[:-1]  # "Example::" -> "Example:"; "::" alone -> ":"
            if intro.strip() != ":":
                out.append(_roles(intro, resolve))
            base = len(line) - len(line.lstrip())
            i += 1
            block, i = _take_block(lines, i, base)
            indent = " " * base
            out += ["", f"{indent}```{_language(block)}", *(indent + b for b in block)]
            out += [f"{indent}```", ""]
            continue
        out.append(_roles(line, resolve))
        i += 1
    return "\n".join(out).rstrip() + "\n"


def _indented_block_follows(lines: list[str], i: int) -> bool:
    base = len(lines[i]) - len(lines[i].lstrip())
    for line in lines[i + 1 :]:
        if line.strip():
            return len(line) - len(line.lstrip()) > base
    return False


def _take_block(lines: list[str], i: int, base: int) -> tuple[list[str], int]:
    """The lines indented deeper than ``base`` from ``i`` on (dedented), and where they end."""
    block: list[str] = []
    while i < len(lines):
        line = lines[i]
        if line.strip() and len(line) - len(line.lstrip()) <= base:
            break
        block.append(line)
        i += 1
    while block and not block[0].strip():
        block.pop(0)
    while block and not block[-1].strip():
        block.pop()
    depth = min((len(b) - len(b.lstrip()) for b in block if b.strip()), default=0)
    return [b[depth:] for b in block], i


def _language(block: list[str]) -> str:
    first = next((b for b in block if b.strip()), "")
    if first.startswith("[") and "=" in "".join(block):
        return "toml"
    if first.startswith(("$ ", "interlace ", "uv ", "pip ")):
        return "bash"
    if re.match(r"^[\w-]+:(\s|$)", first) and "(" not in first:
        return "yaml"
    return "python"


def _roles(line: str, resolve: Any) -> str:
    def link(match: re.Match[str]) -> str:
        short, name = match.group(1) == "~", match.group(2)
        if "<" in name or " " in name:
            return f"`{name}`"
        shown = name.rsplit(".", 1)[-1] if short else name.lstrip(".")
        return f'<autoref identifier="{resolve(name)}" optional><code>{shown}</code></autoref>'

    return ROLE.sub(link, line)
