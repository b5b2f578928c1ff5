"""nox sessions: the whole suite, each package in isolation, lint and benchmarks.

Run with `uvx nox` (or `uv run nox`) from the repository root.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["tests", "lint"]

PACKAGES = [
    "interlace-core",
    "interlace-connections",
    "interlace-quality",
    "interlace-http",
    "interlace-stream",
    "interlace-service",
    "interlace-cli",
]


def _sync(session: nox.Session, *args: str) -> None:
    session.run_install(
        "uv", "sync", "--frozen", *args,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole workspace suite."""
    _sync(session, "--all-packages")
    session.run("pytest", "packages", "-p", "no:cacheprovider", *session.posargs)


# What the tests themselves need on top of a package's own dependencies.
TEST_TOOLS = ["pytest", "pytest-xdist", "hypothesis", "polars", "pandas"]
# Servers some packages' tests start in-process (S3 and SFTP for the storage connections).
PACKAGE_TEST_TOOLS = {"interlace-connections": ["moto[s3]", "flask", "flask-cors", "asyncssh"]}
# Optional extras a package's tests exercise (the MySQL and SQLite engines).
PACKAGE_EXTRAS = {"interlace-connections": ["mysql", "sqlite"]}


@nox.session(python="3.11")
@nox.parametrize("package", PACKAGES)
def package(session: nox.Session, package: str) -> None:
    """One package with only its declared dependencies installed (proves the layering)."""
    extras = [arg for extra in PACKAGE_EXTRAS.get(package, []) for arg in ("--extra", extra)]
    _sync(session, "--package", package, "--no-default-groups", *extras)
    session.install(*TEST_TOOLS, *PACKAGE_TEST_TOOLS.get(package, []))
    session.run("pytest", f"packages/{package}/tests", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    _sync(session, "--all-packages")
    session.run("ruff", "check", "packages", "examples", "benchmarks")
    session.run("ruff", "format", "--check", "packages", "examples", "benchmarks")
    session.run("mypy")
    session.run("lint-imports", "--no-cache")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Benchmarks: Interlace against hand-written DuckDB, printed as ratios."""
    _sync(session, "--all-packages")
    session.run("python", "-m", "benchmarks", *session.posargs)
