"""``polling``: fetch an HTTP API on an interval and publish the new items, following a cursor.

Each poll fetches pages until there is nothing new, publishes each page's items, and only then
stores the cursor (a small JSON file under ``.interlace/streams/adapters/<name>.json``, written
atomically), so a crash re-fetches at most the last page; ``id_field`` de-duplicates it.

The cursor is either a query parameter taken from the last item (``cursor.from_item``) or from
the response (``cursor.from_response``), or a ``next`` link (``next_link``: a dotted path in the
response, or ``header`` for the ``Link: <...>; rel="next"`` header). Example::

    adapters:
      - name: tickets
        type: polling
        stream: tickets
        url: https://api.example.com/v1/tickets
        headers: {Authorization: "Bearer ${TICKETS_TOKEN}"}
        interval: 30s
        items: data               # where the list of items is in the response
        id_field: id
        cursor: {param: updated_since, from_item: updated_at}
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from interlace_http.settings import Seconds  # noqa: TC002 (pydantic reads it at runtime)
from pydantic import BaseModel, ConfigDict, Field, model_validator

from interlace_stream.adapters.base import (
    Adapter,
    AdapterConfig,
    Rejected,
    event_ids,
    safe_url,
    wait_for_stop,
)

if TYPE_CHECKING:
    from typing import Self

    from interlace_stream.adapters.base import Publisher


class CursorConfig(BaseModel):
    """Where the cursor comes from and which query parameter carries it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    param: str = Field(min_length=1)
    from_item: str | None = None  # a dotted path in the last item of a page
    from_response: str | None = None  # a dotted path in the response body
    initial: str | None = None  # the cursor of the very first poll (none: the param is omitted)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.from_item is None) == (self.from_response is None):
            raise ValueError("set exactly one of 'from_item' and 'from_response'")
        return self


class PollingConfig(AdapterConfig):
    """Config of a ``polling`` adapter (see the module docstring)."""

    type: Literal["polling"] = "polling"
    url: str = Field(pattern=r"^https?://")
    method: Literal["GET", "POST"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str] = Field(default_factory=dict)
    interval: Seconds = Field(default=60.0, gt=0)
    timeout: Seconds = Field(default=30.0, gt=0)
    items: str | None = None  # dotted path of the list of items; none: the body itself
    id_field: str | None = None
    cursor: CursorConfig | None = None
    next_link: str | None = None  # dotted path of the next page's URL, or "header"
    max_pages: int = Field(default=100, ge=1)  # per poll

    @model_validator(mode="after")
    def _one_cursor(self) -> Self:
        if self.cursor is not None and self.next_link is not None:
            raise ValueError("set either 'cursor' or 'next_link', not both")
        return self


def dig(value: Any, path: str) -> Any:
    """The value at a dotted ``path`` (``data.items``, ``links.0.href``), or None."""
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


class PollingAdapter(Adapter):
    """Polls an HTTP API and publishes its new items (see the module docstring)."""

    type_name: ClassVar[str] = "polling"
    config_model: ClassVar[type[AdapterConfig]] = PollingConfig
    config: PollingConfig

    # ------------------------------------------------------------------ the stored cursor
    @property
    def state_file(self) -> Path:
        return Path(self.state_dir, f"{self.config.name}.json")

    def load_state(self) -> dict[str, Any]:
        """The stored cursor (``cursor`` and/or ``next_url``); empty before the first poll."""
        value = self.read_state(self.state_file, "fix or delete it")
        return value if isinstance(value, dict) else {}

    def save_state(self, state: dict[str, Any]) -> None:
        """Write the cursor atomically."""
        self.write_state(self.state_file, state)

    # ------------------------------------------------------------------ polling
    async def session(self, publisher: Publisher, stop: asyncio.Event) -> None:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while not stop.is_set():
                await self.poll(http, publisher, stop)
                await wait_for_stop(stop, self.config.interval)

    def _request(self, state: dict[str, Any]) -> tuple[str, dict[str, str]]:
        cfg = self.config
        if cfg.next_link is not None and state.get("next_url"):
            return str(state["next_url"]), {}
        params = dict(cfg.params)
        if cfg.cursor is not None:
            cursor = state.get("cursor", cfg.cursor.initial)
            if cursor is not None:
                params[cfg.cursor.param] = str(cursor)
        return cfg.url, params

    async def poll(self, http: Any, publisher: Publisher, stop: asyncio.Event) -> None:
        """Fetch pages until there is nothing new (or ``max_pages``), publishing each."""
        cfg = self.config
        state = self.load_state()
        for _ in range(cfg.max_pages):
            if stop.is_set():
                return
            url, params = self._request(state)
            async with http.request(cfg.method, url, params=params, headers=cfg.headers) as reply:
                text = await reply.text()
                if reply.status >= 300:
                    raise ConnectionError(
                        f"{cfg.method} {safe_url(reply.url)} answered {reply.status}: {text[:200]}"
                    )
                link = reply.links.get("next") if cfg.next_link == "header" else None
            self.mark_connected()
            try:
                body = json.loads(text)
            except ValueError as exc:
                raise ConnectionError(
                    f"{cfg.method} {safe_url(url)} did not answer JSON ({exc})"
                ) from None
            items = self._items(body, url)
            if items:
                self.count("received", len(items))
                ids = event_ids(items, id_field=cfg.id_field, message_id=None)
                if not await self.deliver(publisher, items, ids):
                    self.count("rejected", len(items))  # skipped: it would fail forever
            new_state = self._next_state(state, body, items, url, link)
            if new_state == state:
                return
            self.save_state(new_state)  # only after publish: a crash re-fetches this page
            self.count("acked", len(items))
            if cfg.cursor is not None and not items:
                return
            state = new_state
            if cfg.next_link is not None and new_state.get("next_url") == url:
                return

    def _items(self, body: Any, url: str) -> list[dict[str, Any]]:
        value = dig(body, self.config.items) if self.config.items else body
        if value is None:
            return []
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            where = f"'{self.config.items}' of " if self.config.items else ""
            raise Rejected(f"{where}the response of {safe_url(url)} is not a list of objects")
        return value

    def _next_state(
        self,
        state: dict[str, Any],
        body: Any,
        items: list[dict[str, Any]],
        url: str,
        link: Any,
    ) -> dict[str, Any]:
        cfg = self.config
        new_state = dict(state)
        if cfg.cursor is not None:
            cursor = (
                dig(items[-1], cfg.cursor.from_item) if cfg.cursor.from_item and items else None
            )
            if cfg.cursor.from_response:
                cursor = dig(body, cfg.cursor.from_response)
            if cursor is not None:
                new_state["cursor"] = cursor
        elif cfg.next_link is not None:
            if cfg.next_link == "header":
                following = str(link["url"]) if link else None
            else:
                found = dig(body, cfg.next_link)
                following = str(found) if found else None
            # no next page: poll this page again next time (ids drop what it already gave)
            new_state["next_url"] = following or url
        return new_state
