"""The site build: every page of docs/ and every generated reference is in it, it works offline,
and a strict build fails on what would rot a docs site (a broken link, a page left out of the
navigation, a reference to a symbol that does not exist)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from sitegen.build import REPO, WEBSITE, build_site


def test_every_docs_page_and_every_reference_is_built(site: Path) -> None:
    docs = REPO / "docs"
    for page in docs.rglob("*.md"):
        built = site / page.relative_to(docs).with_suffix(".html")
        assert built.is_file(), f"docs/{page.relative_to(docs)} was not built"
    for generated in ("cli", "configuration", "rest-api"):
        assert (site / "reference" / f"{generated}.html").is_file()
    document = json.loads((site / "reference" / "openapi.json").read_text())
    assert document["paths"], "the OpenAPI document has no routes"
    assert (site / "repository" / "examples" / "quickstart" / "index.html").is_file()


def test_the_search_index_works_without_a_server(site: Path) -> None:
    script = (site / "search" / "search_index.js").read_text()

    assert script.startswith("var __index = ")  # a script, loadable from file://
    assert "merge_by_key" in script


def test_no_page_loads_anything_from_another_host(site: Path) -> None:
    remote = re.compile(r"<(?:script|img|iframe)\b[^>]*\bsrc=[\"']?(?:https?:)?//", re.I)
    for page in site.rglob("*.html"):
        match = remote.search(page.read_text())
        assert match is None, f"{page.relative_to(site)}: {match and match.group(0)}"
    assert "fonts.googleapis" not in (site / "index.html").read_text()


def _probe(tmp_path: Path, pages: dict[str, str], nav: list[str]) -> str:
    """Build a small site with the real configuration but ``pages``; its (failing) output."""
    docs = tmp_path / "docs"
    shutil.copytree(REPO / "docs" / "assets", docs / "assets")
    for name, text in pages.items():
        (docs / name).write_text(text)
    config = (REPO / "mkdocs.yml").read_text()
    config = config.replace("website/", f"{WEBSITE}/").replace(
        "  - packages/", f"  - {REPO}/packages/"
    )
    config = config.replace("docs_dir: docs", f"docs_dir: {docs}")
    config = config.replace("/repository/\n", "/repository/\n  /reference/\n")
    config = config[: config.index("\nnav:")] + "\nnav:\n" + "".join(f"  - {n}\n" for n in nav)
    (tmp_path / "mkdocs.yml").write_text(config)
    done = build_site(tmp_path / "site", tmp_path / "mkdocs.yml")
    assert done.returncode != 0, "the strict build passed:\n" + done.stderr
    return done.stdout + done.stderr


def test_strict_build_fails_on_a_broken_link_a_page_left_out_of_nav_and_an_unknown_target(
    tmp_path: Path,
) -> None:
    output = _probe(
        tmp_path,
        {
            "index.md": "# Probe\n\nSee [the guide](no-such-page.md) and "
            "[`nothing`][interlace.no_such_symbol].\n",
            "orphan.md": "# Not in the navigation\n",
        },
        nav=["index.md"],
    )

    assert "no-such-page.md" in output
    assert "orphan.md" in output
    assert "interlace.no_such_symbol" in output


def test_strict_build_fails_on_an_api_reference_to_a_symbol_that_does_not_exist(
    tmp_path: Path,
) -> None:
    output = _probe(
        tmp_path, {"index.md": "# Probe\n\n::: interlace.no_such_function\n"}, nav=["index.md"]
    )

    assert "interlace.no_such_function could not be found" in output
