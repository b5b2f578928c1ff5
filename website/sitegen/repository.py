"""Links from the docs to repository files outside ``docs/`` (the quickstart example, the
benchmarks' README, a test file), so that the same Markdown works on the repository's web view
and on the site.

On the repository a docs page links to ``../examples/quickstart/README.md``. On the site that
file becomes a page of its own under ``repository/`` (a Markdown file as it is, any other file
as a page showing its source), and the link is rewritten to it; links inside those pages back
into ``docs/`` are rewritten too. A link to a file that does not exist is left alone, so the
strict build reports it like any broken link.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

PREFIX = "repository"
INLINE = re.compile(r"(\]\()(<?)([^)\s>]+)(>?(?:\s+\"[^\"]*\")?\))")
REFERENCE = re.compile(r"^(\s{0,3}\[[^\]]+\]:\s*)(\S+)", re.M)
FENCE = re.compile(r"^\s*(```|~~~)")
LANGUAGES = {".py": "python", ".sql": "sql", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml"}


@dataclass
class Repository:
    """The repository at ``root`` whose ``docs`` folder is the site's docs_dir."""

    root: Path
    docs: Path
    # repository-relative path (posix) of each published file
    published: set[str] = field(default_factory=set)

    def collect(self) -> set[str]:
        """Find every repository file the docs link to, and the files those link to."""
        queue = [p for p in sorted(self.docs.rglob("*.md"))]
        seen: set[Path] = set()
        while queue:
            path = queue.pop()
            if path in seen:
                continue
            seen.add(path)
            source = path.relative_to(self.root).as_posix()
            for target in _links(path.read_text(encoding="utf-8")):
                rel = self._outside_docs(source, target)
                if rel is not None and rel not in self.published:
                    self.published.add(rel)
                    if rel.endswith(".md"):
                        queue.append(self.root / rel)
        return self.published

    def pages(self) -> dict[str, str]:
        """``site path → Markdown`` of each published file."""
        out = {}
        for rel in sorted(self.published):
            text = (self.root / rel).read_text(encoding="utf-8")
            if rel.endswith(".md"):
                out[self.site_path(rel)] = self.rewrite(text, rel)
            else:
                language = LANGUAGES.get(posixpath.splitext(rel)[1], "")
                out[self.site_path(rel)] = (
                    f"# `{rel}`\n\nThis file is part of the Interlace repository.\n\n"
                    f"```{language}\n{text.rstrip()}\n```\n"
                )
        return out

    def site_path(self, rel: str) -> str:
        """Where repository file ``rel`` is on the site (a docs-relative .md path)."""
        if rel.startswith("docs/"):
            return rel[len("docs/") :]
        return f"{PREFIX}/{rel}" if rel.endswith(".md") else f"{PREFIX}/{rel}.md"

    def rewrite(self, markdown: str, source: str) -> str:
        """``markdown`` (the repository file ``source``) with its links as the site has them."""
        page = self.site_path(source)

        def fix(target: str) -> str:
            path, hash_, fragment = target.partition("#")
            rel = self._resolve(source, path)
            if rel is None or (not rel.startswith("docs/") and rel not in self.published):
                return target
            moved = posixpath.relpath(self.site_path(rel), posixpath.dirname(page) or ".")
            return moved + hash_ + fragment

        return _map_links(markdown, fix)

    # ------------------------------------------------------------------ resolving

    def _resolve(self, source: str, target: str) -> str | None:
        """The repository-relative file a relative link of ``source`` names, if it exists."""
        if not target or "://" in target or target.startswith(("/", "mailto:", "#")):
            return None
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(source), target))
        if joined.startswith("../") or joined == "..":
            return None
        path = self.root / joined
        if path.is_dir() and (path / "README.md").is_file():
            return f"{joined}/README.md"
        return joined if path.is_file() else None

    def _outside_docs(self, source: str, target: str) -> str | None:
        rel = self._resolve(source, target.partition("#")[0])
        return None if rel is None or rel.startswith("docs/") else rel


def _links(markdown: str) -> list[str]:
    found: list[str] = []

    def keep(target: str) -> str:
        found.append(target)
        return target

    _map_links(markdown, keep)
    return found


def _map_links(markdown: str, fix: Callable[[str], str]) -> str:
    """``markdown`` with ``fix`` applied to every link target outside fenced code blocks."""
    out, in_fence = [], False
    for line in markdown.splitlines(keepends=True):
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            line = INLINE.sub(lambda m: m[1] + m[2] + fix(m[3]) + m[4], line)
            line = REFERENCE.sub(lambda m: m[1] + fix(m[2]), line)
        out.append(line)
    return "".join(out)
