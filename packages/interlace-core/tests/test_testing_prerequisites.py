"""`interlace.testing.prerequisites.require`: a missing server or tool skips a test on a
developer's machine and fails it in CI, naming what is missing and how to get it."""

from __future__ import annotations

from pathlib import Path

import pytest
from interlace.testing.prerequisites import find_chromium, require


def _refused() -> None:
    raise ConnectionRefusedError("connection refused")


def test_a_missing_server_skips_outside_ci_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception) as skipped:
        require(False, "the Frob server at 127.0.0.1:1", "start it or set FROB_URL")

    assert str(skipped.value) == (
        "the Frob server at 127.0.0.1:1 is not available: start it or set FROB_URL"
    )


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE"])
def test_a_missing_server_fails_in_ci_with_the_probe_error(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)

    with pytest.raises(pytest.fail.Exception) as failed:
        require(_refused, "the Frob server at 127.0.0.1:1", "start it or set FROB_URL")

    message = str(failed.value)
    assert message.startswith(
        "the Frob server at 127.0.0.1:1 is not available "
        "(ConnectionRefusedError: connection refused): start it or set FROB_URL"
    )
    assert "CI=true" in message


def test_an_available_prerequisite_lets_the_test_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    probed: list[bool] = []

    require(True, "the Frob server", "start it")
    require(lambda: probed.append(True), "the Frob server", "start it")

    assert probed == [True]


def test_ci_false_still_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "false")

    with pytest.raises(pytest.skip.Exception):
        require(False, "the Frob tool", "install it")


def test_find_chromium_takes_the_configured_executable_or_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    browser = tmp_path / "my-chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)

    monkeypatch.setenv("CHROMIUM", str(browser))
    configured = find_chromium()
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "not-there"))
    missing = find_chromium()

    assert configured == str(browser)
    assert missing is None
