"""Alerts inside ``interlace serve``: runs of the server's queue, the scheduler's events from
the state store, ``GET /api/v1/alerts``, and incidents that survive a restart."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import pytest
from interlace.testing import ProjectFolder
from interlace_service.alerts.testing import MODELS, Receiver, alerts_config, kinds
from interlace_service.testing import Served, wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.close()


def served_project(tmp_path: Path, receiver: Receiver, events: str) -> ProjectFolder:
    folder = ProjectFolder.create(
        tmp_path / "shop",
        config=alerts_config(
            f"""
            channels:
              ops:
                type: webhook
                url: {receiver.url}/hook
            rules:
              - name: ops
                events: {events}
                channels: [ops]
                late_after: 1m
            delivery:
              backoff: 0.05s
            """
        ),
    )
    folder.write(MODELS)
    return folder


def test_a_failing_run_of_the_server_alerts_once_across_a_restart_and_resolves(
    tmp_path: Path, receiver: Receiver
) -> None:
    folder = served_project(tmp_path, receiver, "[run_failed]")
    (folder.root / "broken").write_text("")
    served = Served.start(folder)
    try:
        run = served.wait_run(served.trigger(select=["fragile"])["id"])
        assert run["status"] == "failed"
        wait_for(receiver.received, 30, "the alert")

        status = served.call("GET", "/api/v1/alerts").json
        assert status["enabled"] is True
        [incident] = status["incidents"]
        assert (incident["rule"], incident["subject"], incident["status"]) == (
            "ops",
            "fragile",
            "open",
        )
        assert incident["summary"].startswith("model fragile failed: ")

        def delivered() -> list[dict[str, object]]:
            found = served.call("GET", "/api/v1/alerts").json
            return [c for c in found["channels"] if c["status"] == "ok"]

        [channel] = wait_for(delivered, 30, "the channel to report the delivery")
        assert channel["name"] == "ops" and channel["type"] == "webhook"
        assert channel["target"] == f"{receiver.url}/..."  # the path (often a secret) is hidden
        assert channel["sent"] == 1 and channel["failed"] == 0
        [delivery] = served.call("GET", "/api/v1/alerts").json["deliveries"]
        assert (delivery["kind"], delivery["status"], delivery["attempts"]) == ("alert", "sent", 1)
        metrics = served.call("GET", "/metrics").text
        assert 'interlace_alerts_sent_total{channel="ops",kind="alert"} 1.0' in metrics
        assert "interlace_alert_incidents_open 1.0" in metrics
        assert 'interlace_alert_deliveries_pending{channel="ops"} 0.0' in metrics
    finally:
        served.close()

    restarted = Served.start(folder)  # the open incident is in the state store
    try:
        again = restarted.wait_run(restarted.trigger(select=["fragile"])["id"])
        assert again["status"] == "failed"

        def counted() -> bool:
            reply = restarted.call("GET", "/api/v1/alerts").json
            return bool(reply["incidents"]) and reply["incidents"][0]["occurrences"] == 2

        wait_for(counted, 30, "the second failure to be counted")
        (folder.root / "broken").unlink()
        restarted.run_ok(select=["fragile"])
        wait_for(lambda: len(receiver.received()) == 2, 30, "the resolve")

        resolved = restarted.call("GET", "/api/v1/alerts?incidents=resolved").json["incidents"]
        assert [i["status"] for i in resolved] == ["resolved"]
        assert restarted.call("GET", "/api/v1/alerts").json["incidents"] == []
    finally:
        restarted.close()
    assert kinds(receiver.received()) == ["alert.opened", "alert.resolved"]


def test_missed_and_late_schedules_alert_and_an_on_time_fire_resolves_them(
    tmp_path: Path, receiver: Receiver
) -> None:
    folder = served_project(tmp_path, receiver, "[schedule_missed, schedule_late]")
    served = Served.start(folder)

    def scheduler_event(kind: str, **data: object) -> None:
        """An event as the scheduler writes it to the state store's event log."""
        at = time.time()
        payload = {"type": kind, "run_id": "schedule:nightly", "at": at, **data}
        store = served.store()
        try:
            store.add_event("dev", "schedule:nightly", kind, at, json.dumps(payload))
        finally:
            store.close()

    try:
        scheduler_event(
            "schedule.missed", schedule="nightly", slots=["2026-12-05T01:00:00+00:00"], count=1
        )
        scheduler_event(  # the catch-up fire of the same moment: late, does not resolve
            "schedule.fired", schedule="nightly", slot="2026-12-05T02:00:00+00:00",
            lateness=3 * 3600.0, models=["orders"],
        )  # fmt: skip
        wait_for(lambda: len(receiver.received()) == 2, 30, "two alerts")
        opened = [r.json for r in receiver.received()]
        assert {(m["incident"]["event"], m["incident"]["subject"]) for m in opened} == {
            ("schedule_missed", "nightly"),
            ("schedule_late", "nightly"),
        }
        missed = next(m for m in opened if m["incident"]["event"] == "schedule_missed")
        assert missed["text"] == (
            "schedule nightly missed 1 slot(s), the last at 2026-12-05T01:00:00+00:00"
        )

        scheduler_event(  # a manual trigger says nothing about timing
            "schedule.fired", schedule="nightly", slot=None, manual=True, models=["orders"]
        )
        scheduler_event(
            "schedule.fired", schedule="nightly", slot="2026-12-06T02:00:00+00:00",
            lateness=0.4, models=["orders"],
        )  # fmt: skip
        wait_for(lambda: len(receiver.received()) == 4, 30, "two resolves")
        status = served.call("GET", "/api/v1/alerts?incidents=all").json
    finally:
        served.close()
    assert kinds(receiver.received()) == ["alert.opened"] * 2 + ["alert.resolved"] * 2
    assert sorted(i["status"] for i in status["incidents"]) == ["resolved", "resolved"]


def test_the_alerts_route_answers_for_a_project_without_alerts(tmp_path: Path) -> None:
    folder = ProjectFolder.create(tmp_path / "plain").write(MODELS)
    served = Served.start(folder)
    try:
        reply = served.call("GET", "/api/v1/alerts")
        bad = served.call("GET", "/api/v1/alerts?incidents=closed")
    finally:
        served.close()
    assert reply.status == 200, reply
    assert reply.json == {"enabled": False, "channels": [], "incidents": [], "deliveries": []}
    assert bad.status in (400, 422), bad
