"""`interlace apikey` through the real console script (added by interlace-http's hook)."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Folder

TOKEN = re.compile(r"il_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


def test_apikey_is_listed_and_creates_lists_and_revokes_keys(project: Folder) -> None:
    listed = project.interlace("--help")
    assert listed.code == 0 and "apikey" in listed.stdout, listed

    made = project.interlace("apikey", "create", "ci", "--scope", "execute")
    assert made.code == 0, made
    match = TOKEN.search(made.stdout)
    assert match is not None, made
    key_id, secret = match.groups()

    # the group's --project / --env reach the subcommand (run from another folder)
    elsewhere = project.sub("elsewhere")
    elsewhere.root.mkdir()
    keys = elsewhere.interlace("--project", str(project.root), "apikey", "list")
    assert keys.code == 0, keys
    assert key_id in keys.stdout and "execute" in keys.stdout and "active" in keys.stdout
    assert secret not in keys.stdout

    revoked = project.interlace("apikey", "revoke", "ci")
    assert revoked.code == 0 and f"Revoked API key 'ci' (id {key_id})" in revoked.stdout
    assert "no API keys" in project.interlace("apikey", "list").stdout

    state = project.root / ".interlace" / "state.db"
    stored = b"".join(p.read_bytes() for p in state.parent.iterdir() if p.is_file())
    assert secret.encode() not in stored
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT revoked_at IS NOT NULL FROM api_keys").fetchall() == [(1,)]


def test_apikey_mistakes_exit_1_with_a_message(project: Folder) -> None:
    result = project.interlace("apikey", "revoke", "nobody")
    assert result.code == 1, result
    assert "no API key with id or name 'nobody'" in result.stderr
    assert not result.has_traceback


def test_interlace_help_does_not_import_aiohttp(project: Folder) -> None:
    # the hook module and the apikey group stay light: `interlace --help` must be instant
    probe = project.write(
        {
            "probe.py": """
                import sys
                from interlace_cli.main import cli

                try:
                    cli(["--help"], prog_name="interlace")
                except SystemExit:
                    pass
                try:
                    cli(["apikey", "--help"], prog_name="interlace")
                except SystemExit:
                    pass
                print("AIOHTTP" if "aiohttp" in sys.modules else "LIGHT")
            """
        }
    )
    done = subprocess.run(
        [sys.executable, str(probe.root / "probe.py")], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().endswith("LIGHT"), done.stdout
