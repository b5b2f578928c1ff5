"""What a test needs from the machine (a server, a tool, a build): skip without it, except in CI.

A test that needs PostgreSQL, a broker, Java or chromium calls :func:`require` before using it.
On a developer's machine a missing prerequisite skips the test with the way to get it; in CI
(``CI=true``, as GitHub Actions and most CI services set it) it fails the test instead, so a
green CI run always means those tests ran. The message names what is missing and the command
or environment variable that fixes it. Example::

    import shutil

    from interlace.testing.prerequisites import require


    @pytest.fixture(scope="session")
    def java() -> str:
        require(shutil.which("java") is not None, "a Java 17 runtime",
                "install one (apt-get install -y openjdk-17-jre-headless) or set JAVA_HOME")
        return "java"


    @pytest.fixture(scope="session")
    def database() -> str:
        require(lambda: psycopg.connect(URL, connect_timeout=5).close(),
                f"the PostgreSQL test server at {URL}", "start it or set TEST_PG_URL")
        return URL

pytest is imported when a prerequisite is missing, so this module costs nothing elsewhere.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

CHROMIUM_HINT = "install Debian's chromium (as root: apt-get install -y chromium) or set CHROMIUM"


def in_ci() -> bool:
    """Whether the tests run in CI (``CI`` is ``true``, ``1`` or ``yes``)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require(available: bool | Callable[[], object], what: str, fix: str) -> None:
    """Skip the calling test (fail it in CI) unless ``what`` is available.

    ``available`` says whether it is, or is a probe that raises when it is not (connecting to a
    server): the probe's error goes into the message. ``what`` names the missing server, tool
    or file; ``fix`` the command or environment variable that provides it.
    """
    error = ""
    if callable(available):
        try:
            available()
        except Exception as exc:  # whatever the probe's client raises: that is the reason
            error = f" ({type(exc).__name__}: {str(exc).strip()})"
        else:
            return
    elif available:
        return
    import pytest

    message = f"{what} is not available{error}: {fix}"
    if in_ci():
        pytest.fail(
            f"{message}\n(CI=true: the tests that need it must run, not skip)", pytrace=False
        )
    pytest.skip(message)


def find_chromium() -> str | None:
    """The chromium executable: ``$CHROMIUM`` if set (``None`` when it is not there), else
    Debian's (``chromium`` or ``chromium-browser`` on the ``PATH``)."""
    configured = os.environ.get("CHROMIUM")
    if configured:
        return shutil.which(configured)
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None
