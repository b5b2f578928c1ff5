"""The ``service:`` section of config.yaml is interlace-service's (through its hooks entry
point): validated when the project loads, with file and line, and used by `interlace serve`."""

from __future__ import annotations

from pathlib import Path

import pytest
from interlace.errors import ConfigError
from interlace.testing import ProjectFolder
from interlace_http.settings import SecuritySettings
from interlace_service.options import ServiceOptions
from interlace_service.server import security_settings
from interlace_service.service import Service

CONFIG = """\
name: shop
connections:
  default: {type: duckdb, path: data/dev.duckdb}
"""


def test_the_service_section_is_validated_and_used(tmp_path: Path) -> None:
    folder = ProjectFolder.create(
        tmp_path / "p",
        config=CONFIG
        + "service:\n  auth:\n    key_cache_ttl: 30s\n  rate_limit:\n    enabled: false\n",
    )
    section = folder.load().loaded.sections["service"]
    assert isinstance(section, SecuritySettings)
    assert section.auth.key_cache_ttl == 30.0 and not section.rate_limit.enabled
    service = Service.load(folder.root, options=ServiceOptions(port=0, scheduler=False))
    try:
        assert security_settings(service) == section
    finally:
        service.stop()


def test_without_a_service_section_authentication_is_on(tmp_path: Path) -> None:
    folder = ProjectFolder.create(tmp_path / "p", config=CONFIG)
    service = Service.load(folder.root, options=ServiceOptions(port=0, scheduler=False))
    try:
        assert security_settings(service).auth.enabled
    finally:
        service.stop()


def test_a_mistake_in_the_service_section_names_its_line(tmp_path: Path) -> None:
    folder = ProjectFolder.create(
        tmp_path / "p", config=CONFIG + "service:\n  auth:\n    enabeld: false\n"
    )
    with pytest.raises(ConfigError) as error:
        folder.load()
    assert error.value.line == 6
    assert "service.auth.enabeld" in str(error.value)
