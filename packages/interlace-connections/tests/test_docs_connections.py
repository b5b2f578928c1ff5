"""Every configuration example in docs/connections.md is valid as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from interlace.config import StateConfig, load_config
from interlace_connections.postgres.config import PostgresConnectionConfig, PostgresStateConfig

DOC = Path(__file__).resolve().parents[3] / "docs" / "connections.md"


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_doc_has_duckdb_postgres_and_state_examples() -> None:
    blocks = yaml_blocks()
    assert len(blocks) >= 3  # later sections (storage connections) add their own
    assert "type: duckdb" in blocks[0] and "type: postgres" in blocks[1]
    assert blocks[2].startswith("state:")


@pytest.mark.parametrize("index", range(3))
def test_each_example_validates(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", "s3cret")
    (tmp_path / "config.yaml").write_text(yaml_blocks()[index], encoding="utf-8")
    config = load_config(tmp_path).config
    if index == 1:
        warehouse = config.connections["warehouse"]
        assert isinstance(warehouse, PostgresConnectionConfig)
        assert warehouse.search_path == ["analytics", "public"]
        assert "statement_timeout=30min" in warehouse.conninfo()
        assert warehouse.target() == "db.internal:5432/analytics as interlace"
    elif index == 2:
        assert isinstance(config.state, PostgresStateConfig)
        assert config.state.schema_name == "interlace_state"
        assert config.state.password == "s3cret"
    else:
        assert not isinstance(config.state, PostgresStateConfig)
        assert isinstance(config.state, StateConfig)
