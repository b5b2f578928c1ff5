"""The ``alerts:`` section of config.yaml: channels, rules and delivery settings, validated
when the project loads (an error names the key, e.g. ``alerts.channels.ops.webhook.url``).

Example::

    alerts:
      channels:
        ops:
          type: webhook
          url: https://hooks.example.com/interlace
          secret: ${ALERT_WEBHOOK_SECRET}        # signs each body (HMAC-SHA256)
        team:
          type: slack
          url: ${SLACK_WEBHOOK_URL}
        oncall:
          type: email
          host: smtp.example.com
          port: 587
          starttls: true
          username: alerts@example.com
          password: ${SMTP_PASSWORD}
          from: interlace@example.com
          to: [oncall@example.com]
      rules:
        - events: [run_failed, check_failed]
          channels: [ops, team]
        - name: freshness
          events: [sla_breach, schedule_missed, schedule_late]
          channels: [oncall]
          late_after: 10m
      delivery:
        attempts: 6            # per message and channel
        backoff: 2s            # first retry after 2 s, then 4 s, 8 s, ... up to max_backoff
        max_backoff: 5m
        timeout: 10s           # per attempt
        wait: 10s              # how long the end of `interlace run` waits for delivery

Durations are seconds (a number) or strings like ``30s``, ``15m``, ``1h``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

AlertEvent = Literal["run_failed", "check_failed", "schedule_missed", "schedule_late", "sla_breach"]
EVENTS: tuple[AlertEvent, ...] = (
    "run_failed",
    "check_failed",
    "schedule_missed",
    "schedule_late",
    "sla_breach",
)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _seconds(value: Any) -> Any:
    """A duration: a number of seconds or a string such as ``30s`` or ``1h30m``."""
    if isinstance(value, str):
        from interlace.durations import parse_duration

        stripped = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", stripped):
            return float(stripped)
        return parse_duration(stripped).total_seconds()  # ValueError names the forms
    return value


Seconds = Annotated[float, BeforeValidator(_seconds), Field(ge=0)]


def _url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value.strip()):
        raise ValueError(f"invalid URL {value!r}: use an http:// or https:// address")
    return value.strip()


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    timeout: Seconds | None = None  # per attempt; default: delivery.timeout


class WebhookChannel(_Channel):
    """A generic webhook: a JSON body POSTed to ``url``, signed with ``secret``."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    type: Literal["webhook"]
    """`webhook`: a JSON body POSTed to `url`."""
    url: str
    """Where the message is POSTed (`https://...`)."""
    secret: SecretStr | None = None
    """Signs each body (HMAC-SHA256 in a header) so the receiver can check it came from
    Interlace."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra HTTP headers sent with each message."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _url(value)

    def target(self) -> str:
        """Where it sends, without secrets (webhook paths often are)."""
        return _host_of(self.url)


class SlackChannel(_Channel):
    """A Slack incoming webhook (the URL is the secret: keep it in the environment)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    type: Literal["slack"]
    """`slack`: a Slack incoming webhook."""
    url: str
    """The incoming webhook's URL (it is the secret: use `${VAR}`)."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _url(value)

    def target(self) -> str:
        """Where it sends, without secrets (webhook paths often are)."""
        return _host_of(self.url)


class EmailChannel(_Channel):
    """E-mail over SMTP (``ssl``: TLS from the start, port 465; ``starttls``: upgrade a plain
    connection, port 587; neither: plain, port 25)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    type: Literal["email"]
    """`email`: a message over SMTP."""
    host: str
    """The SMTP server's host name."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """The SMTP server's port (default: 465 with `ssl`, 587 with `starttls`, else 25)."""
    starttls: bool = False
    """Upgrade a plain connection to TLS (port 587)."""
    ssl: bool = False
    """Use TLS from the start (port 465)."""
    username: str | None = None
    """The SMTP login (with `password`)."""
    password: SecretStr | None = None
    """The SMTP password (use `${VAR}` to keep it out of the file)."""
    from_: str = Field(alias="from")
    """The sender's address."""
    to: list[str] = Field(min_length=1)
    """The recipients' addresses."""

    @model_validator(mode="after")
    def _consistent(self) -> EmailChannel:
        if self.ssl and self.starttls:
            raise ValueError("`ssl` and `starttls` exclude each other: choose one")
        if (self.username is None) != (self.password is None):
            raise ValueError("`username` and `password` go together: give both or neither")
        for address in (self.from_, *self.to):
            if "@" not in address:
                raise ValueError(f"invalid e-mail address {address!r}")
        return self

    @property
    def smtp_port(self) -> int:
        if self.port is not None:
            return self.port
        return 465 if self.ssl else 587 if self.starttls else 25

    def target(self) -> str:
        """Where it sends."""
        return f"{', '.join(self.to)} via {self.host}:{self.smtp_port}"


Channel = Annotated[WebhookChannel | SlackChannel | EmailChannel, Field(discriminator="type")]


def _host_of(url: str) -> str:
    """``https://hooks.slack.com/services/T0/B0/xyz`` -> ``https://hooks.slack.com/...``:
    webhook paths are often secret."""
    match = re.match(r"(https?://[^/]+)", url)
    return f"{match.group(1)}/..." if match else "..."


class Rule(BaseModel):
    """Which events go to which channels.

    ``events``: ``run_failed`` (a model, or a run without a failed model), ``check_failed``
    (a quality check of severity error failed or could not run), ``schedule_missed``,
    ``schedule_late`` (fired more than ``late_after`` after its slot), ``sla_breach`` (a model
    not built successfully within its ``sla``). ``models``: selectors (``orders``, ``tag:x``,
    ``+revenue``) that limit run, check and SLA events to those models. ``resolve``: send a
    message when the incident clears.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str | None = None
    """The rule's name (default: its events joined by `+`); incidents are kept by it."""
    events: list[AlertEvent] = Field(min_length=1)
    """What is sent: `run_failed`, `check_failed`, `schedule_missed`, `schedule_late`,
    `sla_breach`."""
    channels: list[str] = Field(min_length=1)
    """Names of channels under `alerts.channels` that receive the messages."""
    models: list[str] = Field(default_factory=list)
    """Selectors (`orders`, `tag:x`, `+revenue`) that limit run, check and SLA events to those
    models (default: every model)."""
    late_after: Seconds = 300.0
    """`schedule_late`: seconds after its slot a schedule may fire before it counts as late."""
    resolve: bool = True
    """Send a message when the incident clears."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.fullmatch(value):
            raise ValueError(
                f"invalid rule name {value!r}: use up to 64 letters, digits, '_', '.' or '-'"
            )
        return value

    @property
    def key(self) -> str:
        """The rule's name, by default its events joined by ``+`` (incidents are kept by it)."""
        return self.name or "+".join(self.events)


class DeliveryOptions(BaseModel):
    """How messages are sent: ``attempts`` per message and channel, exponential ``backoff``
    (first retry delay, doubled each time up to ``max_backoff``), ``timeout`` per attempt,
    and ``wait``: how long the end of a run from the command line or Python waits for its
    messages (what is not sent by then stays queued in the state store)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    attempts: int = Field(default=6, ge=1, le=100)
    """Attempts per message and channel before it is given up."""
    backoff: Seconds = 2.0
    """Seconds before the first retry, doubled at each retry."""
    max_backoff: Seconds = 300.0
    """The longest wait between two retries, in seconds."""
    timeout: Seconds = 10.0
    """Seconds each attempt may take."""
    wait: Seconds = 10.0
    """How long the end of a run from the command line or Python waits for its messages (what is not
    sent by then stays queued)."""

    def delay(self, attempt: int) -> float:
        """Seconds before retry number ``attempt`` (1 = the first retry)."""
        return float(min(self.backoff * 2 ** max(attempt - 1, 0), self.max_backoff))


class AlertsConfig(BaseModel):
    """The ``alerts:`` section: where messages go (``channels``), which events go where
    (``rules``) and how they are delivered (``delivery``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    enabled: bool = True
    """Send alerts at all (`false` keeps the rules but sends nothing)."""
    channels: dict[str, Channel] = Field(default_factory=dict)
    """Where messages go, by name: webhook, Slack or e-mail."""
    rules: list[Rule] = Field(default_factory=list)
    """Which events go to which channels."""
    delivery: DeliveryOptions = Field(default_factory=DeliveryOptions)
    """Retries, timeouts and waiting of the delivery."""
    sla_check_every: Seconds = 60.0
    """Seconds between two checks of the models' `sla` by `interlace serve`."""

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not _NAME.fullmatch(name):
                raise ValueError(
                    f"invalid channel name {name!r}: use up to 64 letters, digits, '_', '.' or '-'"
                )
        return value

    @model_validator(mode="after")
    def _rules_name_channels(self) -> AlertsConfig:
        seen: set[str] = set()
        for number, rule in enumerate(self.rules, 1):
            label = f"rule {rule.name!r}" if rule.name else f"rule {number}"
            for channel in rule.channels:
                if channel not in self.channels:
                    known = ", ".join(self.channels) or "none yet"
                    raise ValueError(
                        f"{label}: `channels` names '{channel}', which is not a channel under "
                        f"alerts.channels (configured: {known})"
                    )
            if rule.key in seen:
                raise ValueError(
                    f"{label}: two rules are called '{rule.key}': give each a distinct `name`"
                )
            seen.add(rule.key)
        return self

    @property
    def active(self) -> bool:
        """Whether anything is to be sent: enabled, with at least one rule."""
        return self.enabled and bool(self.rules)
