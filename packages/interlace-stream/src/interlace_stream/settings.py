"""The ``streaming:`` section of ``config.yaml``: where logs live, how fast events move on, and
the standalone server's address and security (the same keys as ``service:``). Example::

    streaming:
      log_dir: .interlace/streams      # the durable logs (one folder per stream)
      commit_interval: 200ms           # how often the committer moves events into tables
      trigger_debounce: 1s             # quiet time before readers of a stream run
      dedup_window: 24h                # how long an Idempotency-Key / event id is remembered
      max_body: 16MB
      host: 127.0.0.1
      port: 8765
      auth: {enabled: true}
      rate_limit: {per_key: {rate: 1000/s, burst: 2000}}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from interlace_http.settings import BucketSettings, RateLimitSettings, Seconds, SecuritySettings
from pydantic import BeforeValidator, ConfigDict, Field, RootModel

from interlace_stream.dedup import DEFAULT_MAX_IDS, DEFAULT_WINDOW
from interlace_stream.log import DEFAULT_SEGMENT_BYTES

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?i?b?)\s*", re.I)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _bytes(value: Any) -> Any:
    if isinstance(value, str):
        match = _SIZE.fullmatch(value)
        if not match:
            raise ValueError(f"invalid size {value!r}: write bytes (1048576) or e.g. '16MB'")
        unit = match.group(2).lower()[:1]
        return int(float(match.group(1)) * _UNITS[unit])
    return value


Bytes = Annotated[int, BeforeValidator(_bytes), Field(gt=0)]


def _ingestion_limits() -> RateLimitSettings:
    # publishers are machines sending many requests from few addresses: the defaults of an API
    # for people (10/s per address) would refuse them; a stream's own `rate_limit` is finer
    return RateLimitSettings(
        per_key=BucketSettings(rate=5000, burst=10000),
        per_ip=BucketSettings(rate=5000, burst=10000),
    )


class StreamingSettings(SecuritySettings):
    """Everything about ingestion that is not one stream's: the durable logs, how fast events
    move on, duplicates, and the standalone server's address and security. The
    standalone server's rate limits default to 5,000 requests/s (burst 10,000) per key and per
    address."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    rate_limit: RateLimitSettings = Field(default_factory=_ingestion_limits)
    """Requests per second per API key and per client address (higher defaults than the
    service's: publishers are machines)."""

    log_dir: str = ".interlace/streams"
    """Where the durable logs are kept, one folder per stream (relative to the project)."""
    commit_interval: Seconds = 0.2
    """How often the committer moves stored events into the streams' tables (seconds, or
    `200ms`)."""
    trigger_debounce: Seconds = 1.0
    """Quiet time after a commit before the models that read the stream run."""
    dedup_window: Seconds = DEFAULT_WINDOW
    """How long an `Idempotency-Key` or event id is remembered to refuse duplicates (`24h`)."""
    dedup_max_ids: int = Field(default=DEFAULT_MAX_IDS, ge=0)
    """The most ids remembered per stream (the oldest are forgotten first)."""
    segment_bytes: Bytes = DEFAULT_SEGMENT_BYTES
    """The size at which a log segment is sealed and a new one started (`64MB`)."""
    max_pending_bytes: Bytes = 64 * 1024 * 1024
    """Events waiting to be written that make publishers wait (back-pressure) beyond this size."""
    max_body: Bytes = 16 * 1024 * 1024
    """The largest request body a publisher may send (`16MB`; larger: `413`)."""
    commit_batch_rows: int = Field(default=50_000, ge=1)
    """Rows the committer inserts into a table at once."""
    host: str = "127.0.0.1"
    """The address the standalone ingestion server (`interlace stream serve`) listens on."""
    port: int = Field(default=8765, ge=0, le=65535)
    """The standalone ingestion server's port."""

    def log_path(self, root: Path) -> Path:
        path = Path(self.log_dir)
        return path if path.is_absolute() else root / path


class AdaptersSection(RootModel[list[dict[str, Any]]]):
    """The top-level ``adapters:`` list (each item names its ``type`` and ``stream``)."""
