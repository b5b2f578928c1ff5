"""Installed distributions define top-level config sections (``service:``) through the
``interlace.hooks`` entry points; core validates them with file and line."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from interlace import hooks
from interlace.config import load_config
from interlace.errors import ConfigError

CONFIG = """\
name: p
connections:
  default: {type: duckdb, path: data/dev.duckdb}
"""


@pytest.fixture
def acme_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_sections.py").write_text(
        textwrap.dedent(
            """
            from pydantic import BaseModel, ConfigDict

            class Acme(BaseModel):
                model_config = ConfigDict(extra="forbid")
                port: int = 8080
                greeting: str = "hello"

            def config_sections():
                return {"acme": Acme}
            """
        )
    )
    info = site / "acme_sections-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-sections\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[interlace.hooks]\nacme = acme_sections\n")
    monkeypatch.syspath_prepend(str(site))
    hooks.installed_hooks.cache_clear()
    yield
    hooks.installed_hooks.cache_clear()


def write(root: Path, extra: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(CONFIG + textwrap.dedent(extra))
    return root


def test_an_extension_section_is_validated_by_its_model(
    tmp_path: Path, acme_installed: None
) -> None:
    root = write(tmp_path / "p", "acme:\n  port: 9000\n")
    loaded = load_config(root)
    section = loaded.sections["acme"]
    assert section.port == 9000 and section.greeting == "hello"  # type: ignore[attr-defined]
    assert "acme" not in loaded.config.model_fields_set


def test_a_mistake_in_an_extension_section_names_its_line(
    tmp_path: Path, acme_installed: None
) -> None:
    root = write(tmp_path / "p", "acme:\n  port: 9000\n  greting: hi\n")
    with pytest.raises(ConfigError) as error:
        load_config(root)
    assert error.value.line == 6
    assert "acme.greting" in str(error.value)


def test_without_the_extension_the_section_is_an_unknown_key(tmp_path: Path) -> None:
    hooks.installed_hooks.cache_clear()
    root = write(tmp_path / "p", "acme:\n  port: 9000\n")
    with pytest.raises(ConfigError, match="acme"):
        load_config(root)
    assert load_config(write(tmp_path / "q", "")).sections == {}
