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
from pydantic import BeforeValidator, Field, RootModel

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
    """Everything about ingestion that is not one stream's (see the module docstring). The
    standalone server's rate limits default to 5,000 requests/s (burst 10,000) per key and per
    address."""

    rate_limit: RateLimitSettings = Field(default_factory=_ingestion_limits)

    log_dir: str = ".interlace/streams"
    commit_interval: Seconds = 0.2
    trigger_debounce: Seconds = 1.0
    dedup_window: Seconds = DEFAULT_WINDOW
    dedup_max_ids: int = Field(default=DEFAULT_MAX_IDS, ge=0)
    segment_bytes: Bytes = DEFAULT_SEGMENT_BYTES
    max_pending_bytes: Bytes = 64 * 1024 * 1024
    max_body: Bytes = 16 * 1024 * 1024
    commit_batch_rows: int = Field(default=50_000, ge=1)
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)

    def log_path(self, root: Path) -> Path:
        path = Path(self.log_dir)
        return path if path.is_absolute() else root / path


class AdaptersSection(RootModel[list[dict[str, Any]]]):
    """The top-level ``adapters:`` list (each item names its ``type`` and ``stream``)."""
