"""``merge_stream_with_source``: a source table with a stream's events on top, by key; the
latest event of a key wins over the source row, incrementally."""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace_stream import publish_sync

if TYPE_CHECKING:
    from interlace.testing import ProjectFolder

FILES = {
    "seeds/catalog.csv": "id,price\n1,10.0\n2,20.0\n3,30.0\n",
    "models/events.py": """
        from interlace_stream import stream

        price_updates = stream("price_updates", fields={"id": "int64", "price": "float64"})
    """,
    "models/prices.sql": """
        -- @strategy: merge_stream_with_source
        -- @primary_key: id
        -- @cursor: _stream_offset
        SELECT id, price, NULL::BIGINT AS _stream_offset FROM catalog
        UNION ALL
        SELECT id, price, _stream_offset FROM price_updates
    """,
}


def _commit(project: ProjectFolder) -> None:
    """What a stream server does between publishes: move the log into the table."""
    import asyncio

    from interlace_stream.runtime import StreamRuntime

    async def cycle() -> None:
        runtime = StreamRuntime(project.load(), execute_runs=False, adapters=False)
        await runtime.start()
        await runtime.stop()  # stopping commits what the log holds

    asyncio.run(cycle())


def test_latest_event_per_key_wins_over_the_source_row_incrementally(
    project: ProjectFolder,
) -> None:
    project.write(FILES)
    _commit(project)
    project.run_ok()
    assert project.values("prices", order_by="id") == [
        (1, 10.0, None),
        (2, 20.0, None),
        (3, 30.0, None),
    ]
    publish_sync(
        "price_updates",
        [{"id": 2, "price": 21.0}, {"id": 2, "price": 22.0}, {"id": 4, "price": 40.0}],
        project=project.root,
    )
    _commit(project)
    result = project.run_ok()
    assert project.values("prices", order_by="id") == [
        (1, 10.0, None),
        (2, 22.0, 1),
        (3, 30.0, None),
        (4, 40.0, 2),
    ]
    assert result.models["prices"].stats == {"updated": 1, "inserted": 1}, result.models["prices"]
    # the source changes: keys without events take it, key 2 keeps its event
    project.write({"seeds/catalog.csv": "id,price\n1,11.0\n2,25.0\n3,30.0\n"})
    project.run_ok()
    assert project.values("prices", order_by="id") == [
        (1, 11.0, None),
        (2, 22.0, 1),
        (3, 30.0, None),
        (4, 40.0, 2),
    ]
    # an older event never replaces a newer one; a newer one does
    publish_sync("price_updates", [{"id": 4, "price": 41.0}], project=project.root)
    _commit(project)
    project.run_ok()
    assert project.values("prices", order_by="id")[3] == (4, 41.0, 3)


def test_the_strategy_needs_a_cursor(project: ProjectFolder) -> None:
    from interlace.errors import InterlaceError

    project.write(
        {
            **FILES,
            "models/prices.sql": FILES["models/prices.sql"].replace(
                "-- @cursor: _stream_offset\n", ""
            ),
        }
    )
    try:
        project.load()
    except InterlaceError as exc:
        assert "cursor='_stream_offset'" in str(exc), str(exc)
    else:
        raise AssertionError("the project loaded")
