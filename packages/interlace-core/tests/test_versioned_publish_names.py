"""Publishing by version (``Capabilities.publish = "versioned_view"``): which version a view
shows, what a dead write left behind, and what the retention drops."""

from __future__ import annotations

import datetime as dt

from interlace.materialize import versions


def test_version_names_sort_by_time_and_belong_to_their_model() -> None:
    early = versions.version_name("orders", dt.datetime(2026, 1, 2, 3, 4, 5, 6))
    late = versions.version_name("orders", dt.datetime(2026, 1, 2, 3, 4, 5, 7))
    assert early == "orders__v20260102030405000006"
    assert early < late
    assert versions.is_version("orders", early)
    assert not versions.is_version("order", early)
    assert not versions.is_version("orders", "orders__v1")


def test_the_shown_version_is_read_from_the_view() -> None:
    name = "m__v20260102030405000006"
    assert versions.shown_version("m", f"SELECT * FROM `main`.`{name}`", "spark") == name
    assert versions.shown_version("m", "SELECT * FROM main.other", "spark") is None
    assert versions.shown_version("m", "SELECT a FROM x JOIN y ON TRUE", "spark") is None


def test_leftovers_are_versions_newer_than_the_published_one() -> None:
    v1, v2, v3 = (f"m__v2026010203040500000{i}" for i in (1, 2, 3))
    assert versions.leftovers("m", [v1, v2, v3, "other"], v2) == [v3]
    assert versions.leftovers("m", [v1, v2], None) == [v1, v2]  # nothing was ever published


def test_retention_keeps_the_newest_older_versions() -> None:
    names = [f"m__v2026010203040500000{i}" for i in range(1, 6)]
    assert versions.expired("m", names, names[-1], 1) == names[:3]
    assert versions.expired("m", names, names[-1], 0) == names[:4]
    assert versions.expired("m", names, names[-1], 9) == []
