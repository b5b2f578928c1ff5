"""MkDocs hooks of the Interlace website (``hooks:`` in mkdocs.yml).

- Generated pages, built from the installed code at every build and never committed:
  ``reference/cli.md`` (the click command tree), ``reference/configuration.md`` (the pydantic
  config models), ``reference/rest-api.md`` and ``reference/openapi.json`` (the OpenAPI
  document of ``interlace serve``).
- The landing page's examples are real runs (``sitegen.examples``).
- Links to repository files outside ``docs/`` become links to pages of those files
  (``sitegen.repository``).
- After the build, no page may load anything from another host (a script, a stylesheet, a
  font, an image): the site must work offline and opened from disk.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).parent))

from mkdocs.structure.files import File
from sitegen import examples
from sitegen.cli_reference import cli_reference
from sitegen.config_reference import config_reference
from sitegen.repository import Repository
from sitegen.rest_reference import openapi_document, rest_reference

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files
    from mkdocs.structure.pages import Page

_repository: Repository | None = None
# what a page would fetch from elsewhere when it opens (links to other sites are fine)
REMOTE_ASSET = re.compile(
    r"<(?:script|img|iframe|source|audio|video)\b[^>]*\bsrc=[\"']?(?:https?:)?//"
    r"|<link\b[^>]*\bhref=[\"']?(?:https?:)?//[^>]*>"
    r"|@import\s+(?:url\()?[\"']?(?:https?:)?//"
    r"|url\([\"']?(?:https?:)?//",
    re.I,
)


def _repo(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def on_pre_build(config: MkDocsConfig, **kwargs: Any) -> None:
    # the runs take seconds: start them before the rest of the build
    examples.start(_repo(config), Path(config.docs_dir))


def on_files(files: Files, config: MkDocsConfig, **kwargs: Any) -> Files:
    global _repository
    document = openapi_document()
    guide = Path(config.docs_dir) / "configuration.md"  # config keys' meanings, where it says
    generated = {
        "reference/cli.md": cli_reference(),
        "reference/configuration.md": config_reference(
            guide.read_text(encoding="utf-8") if guide.is_file() else ""
        ),
        "reference/rest-api.md": rest_reference(document),
        "reference/openapi.json": json.dumps(document, indent=2) + "\n",
    }
    _repository = Repository(_repo(config), Path(config.docs_dir).resolve())
    _repository.collect()
    generated.update(_repository.pages())
    for path, content in generated.items():
        if files.get_file_from_path(path) is not None:
            raise ValueError(f"docs/{path} exists, but the site generates {path}: remove it")
        files.append(File.generated(config, path, content=content))
    return files


def on_page_markdown(
    markdown: str, page: Page, config: MkDocsConfig, files: Files, **kwargs: Any
) -> str:
    if page.file.generated_by is None and _repository is not None:
        markdown = _repository.rewrite(markdown, f"docs/{page.file.src_uri}")
    return examples.fill(markdown, _repo(config))


def on_post_build(config: MkDocsConfig, **kwargs: Any) -> None:
    site = Path(config.site_dir)
    remote = []
    for path in sorted([*site.rglob("*.html"), *site.rglob("*.css")]):
        for match in REMOTE_ASSET.finditer(path.read_text(encoding="utf-8", errors="replace")):
            snippet = match.group(0)
            if snippet.lower().startswith("<link") and not re.search(
                r"rel=[\"']?(?:stylesheet|preload|icon|modulepreload|manifest)", snippet, re.I
            ):
                continue  # rel=canonical and friends are links, not downloads
            remote.append(f"{path.relative_to(site)}: {snippet[:120]}")
    if remote:
        raise ValueError(
            "pages load assets from other hosts (the site must work offline):\n  "
            + "\n  ".join(remote)
        )
