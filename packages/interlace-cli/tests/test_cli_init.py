"""`interlace init NAME` creates a project whose example models run as created (SPEC §1.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Folder


def test_init_creates_a_project_that_runs_as_created(folder: Folder) -> None:
    created = folder.interlace("init", "demo")
    assert created.code == 0, created
    assert "interlace run" in created.stdout

    demo = folder.sub("demo")
    for rel in ("config.yaml", "config.prod.yaml", ".gitignore", "README.md"):
        assert (demo.root / rel).is_file(), rel
    assert list((demo.root / "models").glob("*.py")), "no Python model"
    assert list((demo.root / "models").glob("*.sql")), "no SQL model"

    result = demo.interlace("run")

    assert result.code == 0, result
    assert "Done in" in result.stdout
    tables = demo.relations()
    assert tables["raw.customers"] == "table"
    assert tables["raw.orders"] == "table"
    assert tables["main.stg_orders"] == "view"
    assert demo.count("raw.orders") == 1000
    assert demo.count("marts.top_customers") == 10
    assert demo.count("marts.revenue_by_country") == 4
    revenue = demo.sql("SELECT sum(orders) FROM marts.revenue_by_country")[0][0]
    assert revenue == demo.count("main.stg_orders")


def test_init_project_runs_twice_in_a_row(folder: Folder) -> None:
    folder.interlace("init", "demo")
    demo = folder.sub("demo")

    first = demo.interlace("run")
    second = demo.interlace("run")
    forced = demo.interlace("run", "--force")

    assert first.code == 0, first
    assert second.code == 0, second
    assert "Done in" in second.stdout, second
    assert forced.code == 0, forced
    assert "5 succeeded, 0 failed" in forced.stdout, forced
    assert demo.count("raw.orders") == 1000
    assert not [t for t in demo.relations() if "__il_" in t]


def test_init_into_a_non_empty_folder_fails_unless_forced(folder: Folder) -> None:
    folder.write({"demo/notes.txt": "mine\n"})

    refused = folder.interlace("init", "demo")

    assert refused.code == 1, refused
    assert "already exists and is not empty" in refused.stderr
    assert "--force" in refused.stderr
    assert not refused.has_traceback, refused
    assert not (folder.root / "demo" / "config.yaml").exists()

    forced = folder.interlace("init", "demo", "--force")

    assert forced.code == 0, forced
    assert (folder.root / "demo" / "config.yaml").is_file()
    assert (folder.root / "demo" / "notes.txt").read_text() == "mine\n"


def test_init_into_an_existing_empty_folder_works(folder: Folder) -> None:
    (folder.root / "demo").mkdir()

    result = folder.interlace("init", "demo")

    assert result.code == 0, result
    assert (folder.root / "demo" / "config.yaml").is_file()


def test_init_dot_uses_the_current_folder_name(folder: Folder) -> None:
    here = folder.root / "shop_data"
    here.mkdir()

    result = folder.sub("shop_data").interlace("init", ".")

    assert result.code == 0, result
    assert "Created project 'shop_data'" in result.stdout
    assert "Next: interlace run" in result.stdout
    assert "name: shop_data" in (here / "config.yaml").read_text()


@pytest.mark.parametrize("name", ["1demo", "my project", "demo!", "-demo"])
def test_init_rejects_an_invalid_name(folder: Folder, name: str) -> None:
    result = folder.interlace("init", "--", name)

    assert result.code == 1, result
    assert "invalid project name" in result.stderr
    assert "hint:" in result.stderr
    assert not result.has_traceback, result
    assert not (folder.root / name).exists()


def test_init_onto_an_existing_file_fails_clearly(folder: Folder) -> None:
    folder.write({"demo": "not a folder\n"})

    for args in (("init", "demo"), ("init", "demo", "--force")):
        result = folder.interlace(*args)

        assert result.code == 1, result
        assert "is a file" in result.stderr
        assert not result.has_traceback, result
