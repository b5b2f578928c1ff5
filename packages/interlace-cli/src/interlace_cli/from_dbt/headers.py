"""Writing an Interlace SQL model: ``-- @key: value`` header lines above the query.

Short values stay on one line (``-- @tags: [finance, daily]``); long lists, mappings and
multi-line text continue on ``--`` lines indented below their ``@`` (YAML, as the loader reads
it), so a model with many checks stays readable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

WIDTH = 100


class _Dumper(yaml.SafeDumper):
    """YAML for people: lists of mappings indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _flow(value: Any) -> str:
    text = yaml.dump(
        value, Dumper=_Dumper, default_flow_style=True, sort_keys=False, width=10_000
    ).strip()
    return re.sub(r"\n\.\.\.$", "", text).strip()


def header_lines(key: str, value: Any) -> list[str]:
    """The header lines of one option."""
    if value is None:
        return []
    if isinstance(value, str) and any(line.lstrip().startswith("@") for line in value.splitlines()):
        return [f"-- @{key}: {json.dumps(value)}"]  # a line `--   @x:` would read as a header
    if isinstance(value, str) and "\n" not in value:
        line = f"-- @{key}: {_flow(value)}"
        if len(line) <= WIDTH or " " not in value:
            return [line]
        wrapped = _wrap(value, WIDTH - 6)  # a long text: folded on the lines below
        return [f"-- @{key}: >-", *(f"--   {part}" for part in wrapped)]
    if isinstance(value, str):
        body = [line.rstrip() for line in value.strip("\n").splitlines()]
        return [f"-- @{key}: |-", *(f"--   {line}" if line else "--" for line in body)]
    flat = f"-- @{key}: {_flow(value)}"
    if len(flat) <= WIDTH and "\n" not in flat:
        return [flat]
    block = yaml.dump(
        value, Dumper=_Dumper, default_flow_style=None, sort_keys=False, width=WIDTH - 6
    )
    return [f"-- @{key}:", *(f"--   {line}" for line in block.rstrip("\n").splitlines())]


def _wrap(text: str, width: int) -> list[str]:
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def model_file(header: Mapping[str, Any], sql: str, notes: list[str] | None = None) -> str:
    """A SQL model file: header lines, comment lines, then the query."""
    lines = [line for key, value in header.items() for line in header_lines(key, value)]
    lines += [f"-- {note}" for note in notes or ()]
    return "\n".join([*lines, sql.strip(), ""])


__all__ = ["header_lines", "model_file"]
