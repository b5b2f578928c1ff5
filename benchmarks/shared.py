"""Data handed from the benchmark process to the model files it runs (same process).

Model files of the generated projects import this module, so data built before timing (the
ingest workload's Arrow table) is not rebuilt inside the timed model call.
"""

from __future__ import annotations

from typing import Any

DATA: dict[str, Any] = {}
ROWS = 0
