"""The UI's contract and packaging: the committed OpenAPI copy its TypeScript types come from
is what the service generates, and a wheel of interlace-service (built directly or from its
sdist) carries the built UI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from interlace_service.openapi_snapshot import main, snapshot_text

REPO = Path(__file__).resolve().parents[4]
SNAPSHOT = REPO / "apps" / "ui" / "src" / "api" / "openapi.json"
REFRESH = (
    "python -m interlace_service.openapi_snapshot apps/ui/src/api/openapi.json "
    "&& (cd apps/ui && npm run types)"
)


def test_the_committed_openapi_copy_is_what_the_service_generates() -> None:
    committed = SNAPSHOT.read_text(encoding="utf-8")

    assert json.loads(committed) == json.loads(snapshot_text()), (
        f"apps/ui/src/api/openapi.json is out of date: refresh it with {REFRESH}"
    )
    assert committed == snapshot_text()


def test_the_snapshot_command_writes_the_document_and_explains_its_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "openapi.json"

    assert main([str(target)]) == 0
    assert main([]) == 2
    document = json.loads(target.read_text())
    assert "/api/v1/runs" in document["paths"] and "/api/v1/auth/session" in document["paths"]
    assert "usage: python -m interlace_service.openapi_snapshot" in capsys.readouterr().err


def _build(out: Path, *flags: str) -> None:
    uv = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    command = [uv, "build", *flags, "--offline", "-o", str(out), "packages/interlace-service"]
    if not Path(uv).exists():
        if flags != ("--wheel",):
            pytest.skip("building an sdist needs uv (./dev installs it into .tools/)")
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                   "-w", str(out), "packages/interlace-service"]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def _assert_ui_in(wheel: Path, ui_build: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "interlace_service/ui/index.html" in names
    built = {p.relative_to(ui_build).as_posix() for p in ui_build.rglob("*") if p.is_file()}
    assert {f"interlace_service/ui/{name}" for name in built} <= set(names)


@pytest.mark.xdist_group("ui-wheel")
def test_the_wheel_carries_the_built_ui(tmp_path: Path, ui_build: Path) -> None:
    _build(tmp_path, "--wheel")

    _assert_ui_in(next(tmp_path.glob("interlace_service-*.whl")), ui_build)


@pytest.mark.xdist_group("ui-wheel")
def test_the_sdist_carries_the_built_ui_into_the_wheel_built_from_it(
    tmp_path: Path, ui_build: Path
) -> None:
    _build(tmp_path)  # an sdist, then a wheel from the unpacked sdist (no repository around)

    sdist = next(tmp_path.glob("interlace_service-*.tar.gz"))
    with tarfile.open(sdist) as archive:
        assert any(n.endswith("/ui_dist/index.html") for n in archive.getnames())
    _assert_ui_in(next(tmp_path.glob("interlace_service-*.whl")), ui_build)
