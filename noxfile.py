"""nox sessions: the whole suite, each package in isolation, lint and benchmarks.

Run with `uvx nox` (or `uv run nox`) from the repository root.
"""

from __future__ import annotations

import shutil
from pathlib import Path

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
        "uv",
        "sync",
        "--frozen",
        *args,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole workspace suite."""
    _sync(session, "--all-packages")
    session.run("pytest", "packages", "website", "-p", "no:cacheprovider", *session.posargs)


# What the tests themselves need on top of a package's own dependencies.
TEST_TOOLS = ["pytest", "pytest-xdist", "hypothesis", "polars"]
# Servers some packages' tests start in-process (S3 and SFTP for the storage connections), and
# the TPC-H generator of the benchmark smoke test (benchmarks/ run through the CLI's tests).
PACKAGE_TEST_TOOLS = {
    # (and pyspark: the spark connection type asks users to install it, with a Java runtime)
    "interlace-connections": ["moto[s3]", "flask", "flask-cors", "asyncssh", "pyspark[connect]"],
    # the docs site opened in chromium; `interlace serve` running a filesystem adapter
    # (interlace-stream[files])
    "interlace-cli": ["duckdb-extension-tpch", "playwright", "watchfiles"],
    # the API fuzzed from its OpenAPI document; a local SMTP server for the e-mail alerts; the
    # web UI in chromium
    "interlace-service": ["schemathesis", "aiosmtpd", "playwright"],
    # the filesystem adapter reading an S3 bucket (moto's server, spoken to with boto3)
    "interlace-stream": ["moto[s3]", "flask", "flask-cors", "boto3"],
}
# Optional extras a package's tests exercise (the MySQL and SQLite engines, every broker
# adapter's client).
PACKAGE_EXTRAS = {"interlace-connections": ["mysql", "sqlite"], "interlace-stream": ["all"]}
# Workspace distributions a package's tests need besides its own dependencies: the filesystem
# adapter's test on a storage connection needs a storage connection type (S3 is
# interlace-connections'); the adapter itself reaches it through core's storage seam.
# The web UI's, logging and tracing tests of interlace-service start `interlace serve` and
# `interlace run` as a user does (the command is interlace-cli's): what those tests need is
# installed from the workspace, and everything else a test imports must be declared.
PACKAGE_TEST_WORKSPACE = {
    "interlace-stream": ["interlace-connections"],
    "interlace-service": ["interlace-cli"],
    # the Spark and kill -9 tests run `interlace run` on projects (the quickstart among them)
    "interlace-connections": ["interlace-cli"],
}


def _workspace_dependencies(package: str) -> list[str]:
    """``package`` and every workspace distribution it depends on, dependencies first."""
    import re
    import tomllib

    def direct(name: str) -> list[str]:
        with open(f"packages/{name}/pyproject.toml", "rb") as file:
            declared = tomllib.load(file)["project"].get("dependencies", [])
        names = [re.split(r"[\s\[<>=!~;]", item, maxsplit=1)[0] for item in declared]
        return [n for n in names if n in PACKAGES]

    ordered: list[str] = []

    def visit(name: str) -> None:
        for dependency in direct(name):
            visit(dependency)
        if name not in ordered:
            ordered.append(name)

    visit(package)
    return ordered


@nox.session(python="3.11")
@nox.parametrize("package", PACKAGES)
def package(session: nox.Session, package: str) -> None:
    """One distribution alone, from its wheel, with only its declared dependencies.

    Builds its wheel and those of the workspace distributions it depends on, installs them into
    a fresh venv with their declared dependencies (pinned to uv.lock) plus the test tools, and
    runs its tests from the source tree against the installed wheel. Proves the layering: a
    test that needs an undeclared package fails here.
    """
    tmp = Path(session.create_tmp()).resolve()
    wheels = tmp / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    needed = _workspace_dependencies(package)
    for extra in PACKAGE_TEST_WORKSPACE.get(package, []):
        needed += [name for name in _workspace_dependencies(extra) if name not in needed]
    for name in needed:
        session.run(
            "uv",
            "build",
            "--package",
            name,
            "--wheel",
            "--out-dir",
            str(wheels),
            external=True,
            silent=True,
        )
    constraints = tmp / "constraints.txt"
    session.run(
        "uv",
        "export",
        "--frozen",
        "--no-hashes",
        "--all-packages",
        "--all-extras",
        "--no-emit-workspace",
        "--no-annotate",
        "--no-header",
        "--output-file",
        str(constraints),
        external=True,
        silent=True,
    )
    requirements = []
    for wheel in sorted(wheels.glob("*.whl")):
        name = wheel.name.split("-")[0].replace("_", "-")
        extras = ",".join(PACKAGE_EXTRAS.get(name, []) if name == package else [])
        requirements.append(f"{name}[{extras}] @ {wheel.as_uri()}" if extras else str(wheel))
    session.install(
        "-c", str(constraints), *requirements, *TEST_TOOLS, *PACKAGE_TEST_TOOLS.get(package, [])
    )
    # the tests must import the installed distribution, never packages/*/src
    module = package.removeprefix("interlace-").replace("-", "_")
    module = "interlace" if module == "core" else f"interlace_{module}"
    session.run(
        "python",
        "-c",
        f"import {module}, sys; file = {module}.__file__; print(file); "
        "sys.exit(0 if file.startswith(sys.prefix) else f'{file} is not the installed wheel')",
        silent=False,
    )
    args = session.posargs or ["-n", "2"]
    session.run("pytest", f"packages/{package}/tests", "-p", "no:cacheprovider", *args)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    _sync(session, "--all-packages")
    session.run("ruff", "check", "packages", "examples", "benchmarks", "website")
    session.run("ruff", "format", "--check", "packages", "examples", "benchmarks", "website")
    session.run("mypy")
    session.run("lint-imports", "--no-cache")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Benchmarks: Interlace against hand-written DuckDB, printed as ratios."""
    _sync(session, "--all-packages")
    session.run("python", "-m", "benchmarks", *session.posargs)
