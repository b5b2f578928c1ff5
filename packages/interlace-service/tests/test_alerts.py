"""Alerts of runs from Python and the command line: real runs (``interlace.run``) against a
local HTTP receiver and a local SMTP server; signatures, retries, de-duplication, an
unreachable channel, SLA breaches, ``interlace alerts test`` and bad config."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import sqlite3
import time
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from interlace.errors import InterlaceError
from interlace.project import load_project
from interlace.testing import ProjectFolder
from interlace_service.alerts.channels import verify
from interlace_service.alerts.service import AlertService
from interlace_service.alerts.testing import (
    MODELS,
    Mailbox,
    Receiver,
    alerts_config,
    free_port,
    kinds,
)
from interlace_service.alerts_cli import alerts as alerts_command

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

SECRET = "s3cret-signing-key"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.close()


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ALERT_WEBHOOK_SECRET", SECRET)
    return SECRET


def project(tmp_path: Path, alerts: str, files: dict[str, str] | None = None) -> ProjectFolder:
    folder = ProjectFolder.create(tmp_path / "shop", config=alerts_config(alerts))
    folder.write(files or MODELS)
    return folder


def webhook(url: str, *, events: str = "[run_failed]", attempts: int = 6, wait: str = "10s") -> str:
    return f"""
        channels:
          ops:
            type: webhook
            url: {url}/hooks/interlace
            secret: ${{ALERT_WEBHOOK_SECRET}}
            headers: {{X-Team: data}}
        rules:
          - name: failures
            events: {events}
            channels: [ops]
        delivery:
          attempts: {attempts}
          backoff: 0.05s
          wait: {wait}
    """


def deliveries(folder: ProjectFolder) -> list[tuple[str, str, str, int]]:
    """(channel, kind, status, attempts) of every delivery, oldest first."""
    with sqlite3.connect(folder.root / ".interlace" / "state.db") as db:
        rows = db.execute(
            "SELECT channel, kind, status, attempts FROM alert_deliveries ORDER BY id"
        ).fetchall()
    return [tuple(r) for r in rows]


# ---------------------------------------------------------------------- webhook


def test_a_model_failing_three_runs_in_a_row_sends_one_signed_alert_and_one_resolve(
    tmp_path: Path, receiver: Receiver, secret: str
) -> None:
    folder = project(tmp_path, webhook(receiver.url))
    (folder.root / "broken").write_text("")

    results = [folder.run() for _ in range(3)]
    for result in results:
        assert result.status == "failed"
        assert folder.rows("orders") == [{"id": 1, "amount": 10.0}]  # the rest still ran

    [alert] = receiver.received()
    assert alert.path == "/hooks/interlace"
    assert alert.headers["X-Interlace-Event"] == "alert.opened"
    assert alert.headers["X-Team"] == "data"
    # the receiver's check, as docs/alerts.md shows it
    timestamp = alert.headers["X-Interlace-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + alert.body, hashlib.sha256)
    assert alert.headers["X-Interlace-Signature"] == f"sha256={expected.hexdigest()}"
    assert verify(secret, alert.body, timestamp, alert.headers["X-Interlace-Signature"])
    assert not verify(
        "another-secret", alert.body, timestamp, alert.headers["X-Interlace-Signature"]
    )
    assert not verify(  # a replay ten minutes later is refused
        secret, alert.body, timestamp, alert.headers["X-Interlace-Signature"], now=time.time() + 600
    )
    body = alert.json
    assert body["type"] == "alert.opened"
    assert (body["project"], body["env"]) == ("shop", "dev")
    assert body["incident"]["rule"] == "failures"
    assert body["incident"]["event"] == "run_failed"
    assert body["incident"]["subject"] == "fragile"
    assert "the upstream API is down" in body["text"]
    assert body["incident"]["details"]["run_id"] == results[0].run_id

    (folder.root / "broken").unlink()
    assert folder.run().status == "success"
    assert folder.run().status == "success"  # nothing left to resolve: no message

    requests = receiver.received()
    assert kinds(requests) == ["alert.opened", "alert.resolved"]
    resolved = requests[1].json
    assert resolved["incident"]["id"] == body["incident"]["id"]
    assert resolved["incident"]["status"] == "resolved"
    assert "built successfully again" in resolved["text"]
    assert verify(
        secret,
        requests[1].body,
        requests[1].headers["X-Interlace-Timestamp"],
        requests[1].headers["X-Interlace-Signature"],
    )
    with sqlite3.connect(folder.root / ".interlace" / "state.db") as db:
        [(status, occurrences)] = db.execute(
            "SELECT status, occurrences FROM alert_incidents"
        ).fetchall()
    assert (status, occurrences) == ("resolved", 3)


def test_a_receiver_that_answers_500_twice_gets_the_same_alert_on_the_third_attempt(
    tmp_path: Path, secret: str
) -> None:
    receiver = Receiver(fail_first=2).start()
    try:
        folder = project(tmp_path, webhook(receiver.url))
        (folder.root / "broken").write_text("")

        assert folder.run().status == "failed"

        attempts = receiver.received()
    finally:
        receiver.close()
    assert len(attempts) == 3
    assert len({a.body for a in attempts}) == 1  # one message, sent again
    assert len({a.headers["X-Interlace-Delivery"] for a in attempts}) == 1
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.04 and gaps[1] >= 0.09  # backoff 0.05 s, doubled
    assert deliveries(folder) == [("ops", "alert", "sent", 3)]


def test_an_unreachable_channel_never_fails_or_blocks_a_run_and_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, secret: str
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    folder = project(tmp_path, webhook(dead, attempts=3, wait="3s"))
    (folder.root / "broken").write_text("")

    with caplog.at_level(logging.WARNING, logger="interlace.alerts"):
        started = time.monotonic()
        failed = folder.run()
        (folder.root / "broken").unlink()
        recovered = folder.run()
        took = time.monotonic() - started

    assert failed.status == "failed" and failed.models["orders"].status == "success"
    assert recovered.status == "success"  # the resolve it could not send changes nothing
    assert took < 30
    assert deliveries(folder) == [("ops", "alert", "failed", 3), ("ops", "resolve", "failed", 3)]
    reported = [r.getMessage() for r in caplog.records]
    assert any("to channel ops failed (attempt 1 of 3)" in m for m in reported), reported
    assert any("failed for good after 3 attempt(s)" in m for m in reported), reported

    alerts = AlertService(folder.load())
    try:
        [health] = alerts.channel_health()
    finally:
        alerts.stop()
    assert (health.name, health.status) == ("ops", "failing")
    assert health.last_error is not None and "Connect" in health.last_error
    assert health.counts == {"failed": 2}


def test_a_run_waits_at_most_delivery_wait_and_leaves_the_rest_queued(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, secret: str
) -> None:
    config = webhook(f"http://127.0.0.1:{free_port()}", wait="0.5s")
    folder = project(tmp_path, config.replace("backoff: 0.05s", "backoff: 1h"))
    (folder.root / "broken").write_text("")

    with caplog.at_level(logging.WARNING, logger="interlace.alerts"):
        started = time.monotonic()
        result = folder.run()
        took = time.monotonic() - started

    assert result.status == "failed"
    assert took < 0.5 + 10  # the wait, and the run itself
    assert deliveries(folder) == [("ops", "alert", "pending", 1)]  # retried in an hour
    assert any(
        "1 message(s) not delivered within 0.5 s" in r.getMessage()
        and "they stay queued" in r.getMessage()
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]


# ---------------------------------------------------------------------- slack and e-mail


def test_slack_gets_one_message_per_failed_error_check_and_one_when_it_passes(
    tmp_path: Path, receiver: Receiver
) -> None:
    files = {
        "models/payments.sql": """
            -- @quality_checks: [{not_null: amount}, {row_count: {min: 5}, severity: warn}]
            SELECT * FROM read_csv_auto('payments.csv')
        """,
        "payments.csv": "id,amount\n1,10\n2,\n",
    }
    folder = project(
        tmp_path,
        f"""
        channels:
          team:
            type: slack
            url: {receiver.url}/services/T000/B000/XXXX
        rules:
          - events: [check_failed]
            channels: [team]
        delivery:
          backoff: 0.05s
        """,
        files,
    )

    folder.run()
    folder.run()  # still failing: the same incident

    [message] = receiver.received()
    assert message.path == "/services/T000/B000/XXXX"
    payload = message.json
    assert set(payload) == {"text", "blocks"}
    assert "not_null" in payload["text"] and "payments" in payload["text"]
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "context"]
    assert payload["blocks"][0]["text"]["type"] == "plain_text"
    assert payload["blocks"][0]["text"]["text"].startswith("FIRING check_failed: payments:")
    assert "1 failing row(s)" in payload["blocks"][1]["text"]["text"]
    assert "*shop* · dev" in payload["blocks"][2]["elements"][0]["text"]
    assert "X-Interlace-Signature" not in message.headers  # Slack is not signed

    folder.write({"payments.csv": "id,amount\n1,10\n2,20\n"})
    folder.run()

    messages = receiver.received()
    assert len(messages) == 2  # the warn check (row_count) never alerts
    assert messages[1].json["blocks"][0]["text"]["text"].startswith("RESOLVED check_failed")


def test_email_alerts_arrive_over_smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mailbox = Mailbox().start()
    monkeypatch.setenv("SMTP_USER_NAME", "interlace@example.com")
    try:
        folder = project(
            tmp_path,
            f"""
            channels:
              oncall:
                type: email
                host: 127.0.0.1
                port: {mailbox.port}
                from: ${{SMTP_USER_NAME}}
                to: [oncall@example.com, data@example.com]
            rules:
              - events: [run_failed]
                channels: [oncall]
            """,
        )
        (folder.root / "broken").write_text("")
        folder.run()
        (folder.root / "broken").unlink()
        folder.run()
    finally:
        mailbox.close()

    assert len(mailbox.messages) == 2
    sender, recipients, mail = mailbox.messages[0]
    assert sender == "interlace@example.com"
    assert recipients == ["oncall@example.com", "data@example.com"]
    assert mail["Subject"] == "[Interlace shop/dev] FIRING run_failed: fragile"
    text = mail.get_payload(decode=True)
    assert isinstance(text, bytes)
    assert b"model fragile failed: ConnectionError: the upstream API is down" in text
    assert b"run_id:" in text
    assert mailbox.messages[1][2]["Subject"] == "[Interlace shop/dev] RESOLVED run_failed: fragile"


# ---------------------------------------------------------------------- freshness SLA


def test_a_model_not_refreshed_within_its_sla_alerts_once_and_resolves_when_refreshed(
    tmp_path: Path, receiver: Receiver, secret: str
) -> None:
    files = {
        **MODELS,
        "models/daily.sql": "-- @sla: 2h\nSELECT 1 AS id",
    }
    folder = project(tmp_path, webhook(receiver.url, events="[sla_breach]"), files)
    folder.run_ok(["daily", "orders"])
    assert receiver.received() == []  # fresh: nothing to say

    alerts = AlertService(folder.load()).start()
    try:
        later = time.time() + 3 * 3600
        [opened] = alerts.check_slas(now=later)
        assert alerts.check_slas(now=later + 60) == []  # the same incident
        assert alerts.flush(10)
    finally:
        alerts.stop()
    assert (opened.event, opened.subject, opened.status) == ("sla_breach", "daily", "open")
    [alert] = receiver.received()
    assert "model daily was last refreshed 3.0h ago, longer than its sla 2h" in alert.json["text"]

    folder.run_ok(["daily"], force=True)  # the run's own end resolves it

    assert kinds(receiver.received()) == ["alert.opened", "alert.resolved"]
    assert receiver.received()[1].json["incident"]["subject"] == "daily"


def test_an_invalid_sla_is_a_load_error_naming_the_model(tmp_path: Path) -> None:
    folder = ProjectFolder.create(tmp_path / "shop")
    folder.write({"models/daily.sql": "-- @sla: soon\nSELECT 1 AS id"})

    with pytest.raises(InterlaceError) as caught:
        folder.load()

    text = str(caught.value)
    assert "daily" in text and "sla" in text and "invalid duration 'soon'" in text


# ---------------------------------------------------------------------- interlace alerts test


def test_interlace_alerts_test_sends_a_test_message_and_says_so(
    tmp_path: Path, receiver: Receiver, secret: str
) -> None:
    folder = project(tmp_path, webhook(receiver.url))
    runner = CliRunner()

    result = runner.invoke(alerts_command, ["test", "--project", str(folder.root)])

    assert result.exit_code == 0, result.output
    assert "sent     ops (webhook, http://127.0.0.1:" in result.output
    [message] = receiver.received()
    assert message.headers["X-Interlace-Event"] == "alert.test"
    assert message.json["title"] == "Test message to channel ops"

    unknown = runner.invoke(alerts_command, ["test", "pager", "--project", str(folder.root)])
    assert unknown.exit_code == 1
    assert "no alert channel named 'pager'" in unknown.output
    assert "configured channels: ops" in unknown.output


def test_interlace_alerts_test_exits_1_when_a_channel_cannot_be_reached(
    tmp_path: Path, secret: str
) -> None:
    folder = project(tmp_path, webhook(f"http://127.0.0.1:{free_port()}"))

    result = CliRunner().invoke(
        alerts_command, ["test", "ops", "--timeout", "0.5", "--project", str(folder.root)]
    )

    assert result.exit_code == 1
    assert "ops (webhook" in result.output
    assert "Connect" in result.output


# ---------------------------------------------------------------------- bad config


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        (
            "channels:\n  ops:\n    type: webhook\n    secret: x\n",
            ["alerts.channels.ops", "url", "missing required key"],
        ),
        (
            "channels:\n  team:\n    type: slack\n    url: hooks.slack.com/x\n",
            ["alerts.channels.team", "url", "http:// or https://"],
        ),
        (
            "channels:\n  mail:\n    type: email\n    host: smtp\n    from: a@b.c\n",
            ["alerts.channels.mail", "to", "missing required key"],
        ),
        (
            "channels:\n  ops:\n    type: pager\n    url: http://x\n",
            ["alerts.channels.ops", "pager"],
        ),
        (
            "channels: {}\nrules:\n  - name: failures\n    events: [run_failed]\n"
            "    channels: [ops]\n",
            ["rule 'failures'", "`channels` names 'ops'", "not a channel"],
        ),
        (
            "channels:\n  ops: {type: webhook, url: 'http://x'}\n"
            "rules:\n  - {events: [run_crashed], channels: [ops]}\n",
            ["alerts.rules.0.events.0", "run_crashed"],
        ),
        (
            "delivery:\n  backoff: soon\n",
            ["alerts.delivery.backoff", "invalid duration"],
        ),
    ],
)
def test_bad_alert_config_is_a_load_error_naming_the_key(
    tmp_path: Path, alerts: str, expected: list[str]
) -> None:
    folder = ProjectFolder.create(tmp_path / "shop", config=alerts_config(alerts))

    with pytest.raises(InterlaceError) as caught:
        load_project(folder.root)

    text = str(caught.value)
    for part in expected:
        assert part in text, text
    assert "config.yaml" in text


def test_a_secret_from_an_unset_variable_is_a_load_error_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALERT_WEBHOOK_SECRET", raising=False)
    folder = ProjectFolder.create(
        tmp_path / "shop", config=alerts_config(webhook("http://127.0.0.1:9"))
    )

    with pytest.raises(InterlaceError) as caught:
        load_project(folder.root)

    assert "alerts.channels.ops.secret" in str(caught.value)
    assert "ALERT_WEBHOOK_SECRET" in str(caught.value)


def test_a_rule_selecting_no_model_is_an_error_naming_it(tmp_path: Path) -> None:
    folder = project(
        tmp_path,
        """
        channels:
          ops: {type: webhook, url: "http://127.0.0.1:9"}
        rules:
          - events: [run_failed]
            channels: [ops]
            models: [ordrs]
        """,
    )

    with pytest.raises(InterlaceError) as caught:
        AlertService(folder.load()).start()

    assert "ordrs" in str(caught.value)
