"""`interlace apikey create|list|revoke` (the click group, run with click's CliRunner)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from interlace.state.sqlite import SQLiteStateStore
from interlace_http.apikeys import digest, parse_token
from interlace_http.cli import apikey
from interlace_http.hooks import cli_commands

TOKEN = re.compile(r"il_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    (tmp_path / "config.yaml").write_text("name: keys_test\n", encoding="utf-8")
    return tmp_path


def cli(project: Path, *args: str) -> Result:
    return CliRunner().invoke(apikey, [*args, "--project", str(project)])


def test_create_prints_the_key_once_and_stores_only_its_digest(project: Path) -> None:
    made = cli(project, "create", "ci-deploy", "--scope", "execute", "--expires-in", "90d")
    assert made.exit_code == 0, made.output
    (token,) = TOKEN.findall(made.output)
    assert "only time the key is shown" in made.output
    assert "scopes: execute (also allows: read)" in made.output
    key_id, secret = parse_token(token) or ("", "")
    store = SQLiteStateStore(project / ".interlace" / "state.db")
    try:
        found = store.api_key_digest(key_id)
    finally:
        store.close()
    assert found is not None
    key, stored = found
    assert key.name == "ci-deploy" and key.scopes == ("execute",)
    assert key.expires_at is not None and key.expires_at - key.created_at == 90 * 86400
    assert stored == digest(secret)
    # list never shows it again
    listed = cli(project, "list")
    assert listed.exit_code == 0
    assert key_id in listed.output and "ci-deploy" in listed.output
    assert secret not in listed.output and stored not in listed.output


def test_quiet_create_prints_only_the_key_for_scripts(project: Path) -> None:
    made = cli(project, "create", "bot", "-s", "read,write", "--quiet")
    assert made.exit_code == 0, made.output
    assert TOKEN.fullmatch(made.stdout.strip())
    keys = json.loads(cli(project, "list", "--json").stdout)
    assert [(k["name"], k["scopes"], k["status"]) for k in keys] == [
        ("bot", ["read", "write"], "active")
    ]
    assert all("digest" not in k and "secret" not in k for k in keys)


def test_revoke_by_name_or_id_and_list_all_shows_revoked_keys(project: Path) -> None:
    first = TOKEN.findall(cli(project, "create", "one").output)[0]
    cli(project, "create", "two")
    first_id = (parse_token(first) or ("", ""))[0]
    by_id = cli(project, "revoke", first_id)
    assert by_id.exit_code == 0 and "Revoked API key 'one'" in by_id.output
    by_name = cli(project, "revoke", "two")
    assert by_name.exit_code == 0 and "Revoked API key 'two'" in by_name.output
    again = cli(project, "revoke", "two")
    assert again.exit_code == 0 and "already revoked" in again.output
    assert "no API keys" in cli(project, "list").output
    everything = cli(project, "list", "--all").output
    assert everything.count("revoked") == 2
    # the name is free again once its key is revoked
    assert cli(project, "create", "two").exit_code == 0


def test_mistakes_are_errors_for_people(project: Path) -> None:
    cli(project, "create", "taken")
    cases = [
        (("create", "taken"), "an active API key named 'taken' already exists"),
        (("create", "x", "--scope", "root"), "unknown API key scope 'root'"),
        (("create", "has space"), "invalid API key name"),
        (("create", "x", "--expires-in", "soon"), "invalid duration 'soon'"),
        (("revoke", "nobody"), "no API key with id or name 'nobody'"),
    ]
    for args, says in cases:
        result = cli(project, *args)
        assert result.exit_code != 0, args
        assert says in result.output, result.output
        assert "Traceback" not in result.output


def test_a_folder_without_a_project_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(apikey, ["list", "--project", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "error:" in result.output and "Traceback" not in result.output


def test_the_hook_adds_the_apikey_group_to_interlace() -> None:
    assert [command.name for command in cli_commands()] == ["apikey"]
