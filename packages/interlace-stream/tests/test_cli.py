"""The stream commands (``interlace-stream ...``, and ``interlace stream ...`` through the
hook): publish, list, show, run, quarantine, with clear errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

from click.testing import CliRunner
from interlace_stream.cli import stream

if TYPE_CHECKING:
    from conftest import Eventually
    from interlace.testing import ProjectFolder

STREAMS = {
    "models/events.py": """
        from interlace_stream import stream

        orders = stream("orders", fields={"id": "int64"})
        raw = stream("raw", fields={"id": "int64"}, validate_schema="quarantine")
    """
}


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(stream, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_the_stream_commands_are_added_to_interlace_through_the_hook() -> None:
    from interlace.hooks import cli_commands

    assert "stream" in [command.name for command in cli_commands()]


def test_publish_list_and_show_without_a_server(project: ProjectFolder) -> None:
    project.write(STREAMS)
    root = str(project.root)
    code, out = cli("publish", "orders", '[{"id": 1}, {"id": 2}]', "-p", root, "--key", "a")
    assert code == 0 and "stored 2 event(s)" in out, out
    code, out = cli("publish", "orders", '[{"id": 1}, {"id": 2}]', "-p", root, "--key", "a")
    assert "2 duplicate(s) skipped" in out, out
    code, out = cli("list", "-p", root)
    assert code == 0, out
    line = next(line for line in out.splitlines() if line.startswith("orders"))
    assert line.split()[:6] == ["orders", "validate", line.split()[2], "2", "0", "2"], out
    code, out = cli("show", "orders", "-p", root)
    assert json.loads(out)["lag"] == 2


def test_bad_input_to_the_commands_is_a_clear_error(project: ProjectFolder) -> None:
    project.write(STREAMS)
    root = str(project.root)
    code, out = cli("publish", "orders", '{"id": "x"}', "-p", root)
    assert code == 1 and "field 'id'" in out, out
    code, out = cli("publish", "nope", '{"id": 1}', "-p", root)
    assert code == 1 and "no stream named 'nope'" in out, out
    code, out = cli("publish", "orders", "{not json", "-p", root)
    assert code == 1 and "not valid JSON" in out, out
    code, out = cli("show", "nope", "-p", root)
    assert code == 1 and "no stream named 'nope'" in out, out
    code, out = cli("list", "--url", "http://127.0.0.1:9")
    assert code == 1 and "cannot reach" in out, out


def test_run_commits_while_it_runs_and_quarantine_replay_works_offline(
    project: ProjectFolder, eventually: Eventually
) -> None:
    project.write(STREAMS)
    root = str(project.root)
    assert cli("publish", "raw", '[{"id": 1}, {"id": "bad"}]', "-p", root)[0] == 0
    process = subprocess.Popen(
        [sys.executable, "-c", "from interlace_stream.cli import main; main()", "run", "-p", root],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        assert b"streams running" in process.stdout.readline()
        # the running process holds the logs: publishing beside it says what to do
        code, out = cli("publish", "orders", '{"id": 1}', "-p", root)
        assert code == 1 and "another process holds the stream log" in out, out
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    code, out = cli("quarantine", "list", "raw", "-p", root)
    assert "offset 1 (waiting): field 'id'" in out, out
    # fixed declaration: the bad event fits now, and replaying stores it
    project.write(
        {
            "models/events.py": STREAMS["models/events.py"].replace(
                'raw", fields={"id": "int64"}', 'raw", fields={"id": "string"}'
            )
        }
    )
    code, out = cli("quarantine", "replay", "raw", "-p", root)
    assert code == 0 and "replayed 1 event(s)" in out, out
    code, out = cli("show", "raw", "-p", root)
    state = json.loads(out)
    assert (state["committed_offset"], state["quarantined"]) == (3, 0), state
