"""Materializations checked when a project loads (SPEC §3.1).

What each materialization builds (table, view, ephemeral SQL and Python, none) is tested on
every engine in interlace-connections' engine suite (tests/engines/test_engine_materializations.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from interlace.errors import ModelDefinitionError

if TYPE_CHECKING:
    from conftest import MakeProject


def test_view_reading_a_python_ephemeral_model_is_refused_at_load(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/source.py": """
                from interlace import model

                @model(materialize="ephemeral")
                def source():
                    return [{"id": 1}]
            """,
            "models/passthrough.sql": "-- @materialize: ephemeral\nSELECT * FROM source",
            "models/live.sql": "-- @materialize: view\nSELECT * FROM passthrough",
        }
    )
    with pytest.raises(ModelDefinitionError) as info:
        project.load()
    error = info.value
    assert (error.file, error.line, error.model) == ("models/live.sql", 1, "live")
    assert "reads 'source'" in str(error)
    assert "as a table" in (error.hint or "")
