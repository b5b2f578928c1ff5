"""Run one adapter in a process of its own (the kill -9 tests).

``python runner.py <spec.json>`` where the spec holds ``adapter`` (its YAML as JSON), ``stream``,
``log_dir``, ``expect`` (stop once the stream holds this many events and the adapter acked
that many messages, ``expect_acked``) and ``report`` (a file the
adapter's health and the stream's duplicate count are written to on a clean exit). With
``INTERLACE_STREAM_FAULT`` set, the adapter kills itself at that point instead.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from interlace_stream.adapters import build_adapter

sys.path.insert(0, str(Path(__file__).parent))
from support import open_publisher, stream_info


async def main(spec: dict[str, Any]) -> None:
    log_dir = Path(spec["log_dir"])
    adapter = build_adapter(spec["adapter"], project_dir=log_dir.parent)
    async with open_publisher(log_dir, stream_info(spec["stream"])) as publisher:
        writer = publisher.writers[spec["stream"]]
        stop = asyncio.Event()
        task = asyncio.create_task(adapter.run(publisher, stop))
        deadline = asyncio.get_running_loop().time() + float(spec.get("timeout", 60))
        wanted = spec.get("expect_acked", 0)
        while writer.log.next_offset < spec["expect"] or adapter.counters["acked"] < wanted:
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await task
        report = {
            "health": adapter.health().to_dict(),
            "stored": writer.log.next_offset,
            "duplicates": writer.stats.duplicates,
        }
    Path(spec["report"]).write_text(json.dumps(report), encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
