"""The streams pages of the web UI, served by a real ``interlace serve`` on a project with two
streams: events published over HTTP show up on the page by themselves (counts, recent events),
with each consumer's lag and the quarantined events' reasons."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import UI, Server
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.xdist_group("ui-streams")
# each test publishes to its own streams: it needs no other test to have run on its server

CONFIG = """\
name: stream_ui
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
streaming:
  commit_interval: 0.05
  trigger_debounce: 0.2
service:
  rate_limit: {per_ip: {rate: 200/s, burst: 400}}
streams:
  orders:
    fields: {id: int64, amount: float64, customer: string}
  clicks:
    fields: {user: string, page: string}
    validate_schema: quarantine
  payments:
    fields: {id: int64, amount: float64, customer: string}
  visits:
    fields: {user: string, page: string}
    validate_schema: quarantine
"""


class Streams:
    """The served project and an API key that may publish (the ``write`` scope)."""

    def __init__(self, server: Server, key: str) -> None:
        self.server = server
        self.key = key

    def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        request = urllib.request.Request(
            self.server.url + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
            return dict(json.loads(response.read()))

    def publish(self, stream: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        return self.call("POST", f"/api/v1/streams/{stream}", events)

    def state(self, stream: str) -> dict[str, Any]:
        return self.call("GET", f"/api/v1/streams/{stream}")


@pytest.fixture(scope="module")
def streams(
    tmp_path_factory: pytest.TempPathFactory, ui_build: Path, ui: type[UI]
) -> Iterator[Streams]:
    root = tmp_path_factory.mktemp("ui-streams") / "project"
    (root / "models").mkdir(parents=True)
    (root / "config.yaml").write_text(CONFIG)
    (root / "models" / "order_totals.sql").write_text(
        "-- @strategy: append\n-- @cursor: _stream_offset\n"
        "SELECT _stream_offset, id, amount * 2 AS doubled FROM orders\n"
    )
    with ui.Server(root) as server:  # its output goes to a file (every publish logs a line)
        yield Streams(server, server.api_key("publisher", "write"))


@pytest.fixture(scope="module")
def page(browser: Browser, streams: Streams, ui: type[UI]) -> Iterator[Page]:
    with ui.signed_in(browser, streams.server, "ui-streams") as signed_in:
        yield signed_in


def cell(page: Page, stream: str, name: str) -> str:
    found = page.locator(f"[data-testid=streams-table] tr[data-stream={stream}] [data-cell={name}]")
    return found.inner_text().strip()


def test_published_events_show_up_on_the_streams_page_by_themselves(
    page: Page, streams: Streams, ui: type[UI], shots: Path
) -> None:
    page.goto(streams.server.url + "/#/graph")
    page.locator("[data-testid=live-indicator][data-connected=true]").wait_for()
    page.keyboard.press("e")  # the streams page's shortcut
    page.get_by_test_id("streams-table").wait_for()
    assert page.url.endswith("#/streams")
    assert page.get_by_test_id("streams-count").inner_text() == "4 streams"
    assert cell(page, "orders", "published") == "0"

    streams.publish("orders", [{"id": i, "amount": i * 1.5, "customer": f"c{i}"} for i in (1, 2)])
    streams.publish("orders", [{"id": 3, "amount": 4.0}])
    streams.publish("clicks", [{"user": "u1", "page": "/"}, {"user": 5, "page": "/pricing"}])

    # no reload: the page follows the commits (live events) and polls for the publish counts
    ui.wait_for(lambda: cell(page, "orders", "published") == "3", 30, "3 published orders")
    ui.wait_for(lambda: cell(page, "clicks", "quarantined") == "1", 30, "1 quarantined click")
    assert cell(page, "clicks", "published") == "2"
    ui.wait_for(lambda: cell(page, "orders", "lag") == "0", 30, "the orders to be committed")
    assert cell(page, "orders", "consumers") == "none"
    assert cell(page, "orders", "adapters") == "none"
    page.screenshot(path=str(shots / "streams.png"))


def test_a_streams_page_shows_its_fields_consumer_lag_and_recent_events_live(
    page: Page, streams: Streams, ui: type[UI]
) -> None:
    streams.publish("payments", [{"id": i, "amount": i * 1.5, "customer": f"c{i}"} for i in (1, 2)])
    streams.publish("payments", [{"id": 3, "amount": 4.0}])
    ui.wait_for(lambda: streams.state("payments")["committed_offset"] >= 3, 30, "3 commits")
    batch = streams.call("POST", "/api/v1/streams/payments/consume?consumer=billing&batch_size=1")
    assert len(batch["events"]) == 1
    streams.call(
        "POST",
        "/api/v1/streams/payments/ack",
        {"consumer": "billing", "lease": batch["lease"], "offset": batch["next_offset"]},
    )

    page.goto(streams.server.url + "/#/streams")
    page.locator("[data-testid=streams-table] a", has_text="payments").click()
    page.get_by_test_id("stream-page").wait_for()
    assert page.url.endswith("#/streams/payments")
    assert page.get_by_test_id("stream-name").inner_text() == "payments"
    fields = page.locator("[data-testid=stream-fields] tbody tr").all_inner_texts()
    assert [" ".join(row.split()) for row in fields] == [
        "id int64",
        "amount float64",
        "customer string",
    ]
    lag = page.locator("[data-testid=stream-consumers] tr[data-consumer=billing] [data-cell=lag]")
    assert lag.inner_text() == "2"  # 3 committed, 1 acknowledged

    recent = page.locator("[data-testid=recent-events] tbody tr")
    ui.wait_for(lambda: recent.count() == 3, 30, "the 3 published orders in the recent events")
    assert '"customer":"c1"' in recent.last.inner_text().replace(" ", "")
    page.locator("[data-testid=recent-feed][data-feed=live]").wait_for()

    # a new event arrives while the page is open: it shows at once, markup shown as text
    streams.publish("payments", [{"id": 4, "amount": 1.0, "customer": "<b>bold</b>"}])
    newest = page.locator("[data-testid=recent-events] tbody tr[data-offset='3']")
    newest.wait_for()
    assert "<b>bold</b>" in newest.inner_text()
    assert page.locator("[data-testid=recent-events] b").count() == 0
    ui.wait_for(
        lambda: page.locator("[data-stat=published] dd").first.inner_text() == "4",
        30,
        "the published count to reach 4",
    )


def test_quarantined_events_show_their_reason_and_the_event(
    page: Page, streams: Streams, ui: type[UI]
) -> None:
    streams.publish("visits", [{"user": "u1", "page": "/"}, {"user": 5, "page": "/pricing"}])
    ui.wait_for(lambda: streams.state("visits")["quarantined"] == 1, 30, "the quarantine")
    page.goto(streams.server.url + "/#/streams/visits")
    row = page.locator("[data-testid=stream-quarantine] tbody tr[data-offset='1']")
    row.wait_for()
    assert row.locator("[data-cell=reason]").inner_text() == (
        "field 'user': expected string, got integer 5"
    )
    assert '"page": "/pricing"' in row.locator("[data-cell=payload]").inner_text()
    assert page.locator("[data-stat=quarantined] dd").first.inner_text() == "1"
    # the breadcrumb goes back to the list
    page.get_by_role("link", name="Streams", exact=True).first.click()
    page.get_by_test_id("streams-table").wait_for()
