"""The generated pages say everything the code has: every command, every config key, every
route; and the Markdown helpers keep the docs' links and docstrings working on the site."""

from __future__ import annotations

import re

import click
from interlace.plugins import available_connection_types, connection_type
from pydantic import BaseModel
from sitegen.build import REPO
from sitegen.cli_reference import cli_reference
from sitegen.config_reference import _nested_models, config_reference
from sitegen.docstrings import to_markdown
from sitegen.repository import Repository
from sitegen.rest_reference import openapi_document, rest_reference


def _models_under(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for info in model.model_fields.values():
        for nested, _ in _nested_models(info.annotation):
            if nested not in found:
                found += [m for m in _models_under(nested) if m not in found]
    return found


def test_configuration_reference_has_every_key_of_every_model() -> None:
    from interlace.config import ProjectConfig

    page = config_reference((REPO / "docs" / "configuration.md").read_text())

    models = _models_under(ProjectConfig)
    for name in available_connection_types():
        models += _models_under(connection_type(name).config_model)
    for model in models:
        for name, info in model.model_fields.items():
            assert f"| `{info.alias or name}` |" in page, f"{model.__name__}.{name} is missing"
    assert "| `max_workers` | integer, ≥ 1 | computed when the config loads |" in page
    assert "### `type:` `duckdb`" in page and "### `type:` `postgres`" in page


def test_every_configuration_key_has_a_meaning() -> None:
    """A key without a description (``Field(description=...)``, the docstring under the field,
    the configuration guide's key table or a comment beside the field) fails here."""
    page = config_reference((REPO / "docs" / "configuration.md").read_text())

    section = ""
    rows: list[tuple[str, str, str]] = []
    for line in page.splitlines():
        if line.startswith("#"):
            section = line
        elif line.startswith("| `"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            assert len(cells) == 4, f"{section}: a row without 4 cells: {line}"
            rows.append((section, cells[0], cells[3]))

    assert len(rows) > 150
    missing = [f"{where} {key}" for where, key, meaning in rows if not meaning]
    assert not missing, "config keys without a description:\n  " + "\n  ".join(missing)
    assert "| `root` |" not in page  # a section that is a mapping says what its entries are
    assert "`schedules` is a mapping of name → [mapping](#schedules-name)." in page
    assert "### `alerts.channels.NAME` with `type: slack`" in page


def test_cli_reference_has_every_command_with_its_options_including_extensions() -> None:
    from interlace_cli.main import cli

    page = cli_reference()

    ctx = click.Context(cli, info_name="interlace")
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None
        assert f"## `interlace {name}`" in page
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert f"`{param.opts[0]}`" in page, f"interlace {name} {param.opts[0]}"
    assert "### `interlace dlq list`" in page
    extension = [name for name in cli.list_commands(ctx) if name not in cli.commands]
    assert extension, "no installed distribution adds a command (interlace-service does)"
    assert page.count("Added by an installed distribution") == len(extension)
    assert "| `--lock-timeout` | TEXT | `10m` |" in page
    assert "Sentinel" not in page  # click's "no default" marker is not a default


def test_rest_reference_has_every_operation_and_schema() -> None:
    document = openapi_document()

    page = rest_reference(document)

    for path, operations in document["paths"].items():
        for method in operations:
            assert f"### `{method.upper()} {path}`" in page
    for name in document["components"]["schemas"]:
        assert f"### `{name}`" in page


def test_docstring_literal_blocks_sessions_and_roles_become_markdown() -> None:
    text = (
        "Run it.\n\nExample::\n\n    run_sync('.')\n\n"
        ">>> 1 + 1\n2\n\nSee :func:`~interlace.api.run` and ``code``.\n"
    )

    markdown = to_markdown(text)

    assert "Example:\n\n```python\nrun_sync('.')\n```" in markdown
    assert "```pycon\n>>> 1 + 1\n2\n```" in markdown
    assert '<autoref identifier="interlace.api.run" optional><code>run</code></autoref>' in markdown
    assert "``code``" in markdown


def test_links_to_repository_files_point_at_their_pages_on_the_site() -> None:
    repository = Repository(REPO, REPO / "docs")
    repository.collect()
    page = "See [the example](../examples/quickstart/README.md) and [gone](../no/such.md)."

    rewritten = repository.rewrite(page, "docs/getting-started.md")

    assert "(repository/examples/quickstart/README.md)" in rewritten
    assert "(../no/such.md)" in rewritten  # left for the strict build to report
    readme = repository.pages()["repository/examples/quickstart/README.md"]
    assert "(../../../testing.md)" in readme  # its link back into docs/
