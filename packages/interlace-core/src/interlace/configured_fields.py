"""Columns declared in the config (``fields: {MODEL: {column: ...}}``), merged into the models.

The same declaration as a model's own ``fields`` (a type, or a mapping of ``type``,
``description``, ``checks`` and ``sources``), for teams that keep column documentation beside
the config rather than in each model. A model's own declaration of a column wins; the config adds
the columns it does not declare, and fills the description, checks and sources it leaves out.

Example (``config.yaml``)::

    fields:
      orders:
        id: {description: The order id, checks: [not_null, unique]}
        amount: {type: "decimal(10, 2)", description: Order total in EUR}
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from interlace.errors import ConfigError, ModelDefinitionError
from interlace.model_files import relative_path
from interlace.project_checks import lookup
from interlace.spec import split_fields
from interlace.types import TypeSpecError, to_sql_type

if TYPE_CHECKING:
    from interlace.config import LoadedConfig
    from interlace.spec import ModelSpec


def with_configured_fields(
    loaded: LoadedConfig, specs: dict[str, ModelSpec], aliases: dict[str, str]
) -> dict[str, ModelSpec]:
    """``specs`` with the config's ``fields`` merged in (errors name the config file/line)."""
    configured = loaded.config.fields
    if not configured:
        return specs
    out = dict(specs)
    for key, columns in configured.items():
        file, line = loaded.locations.where(("fields", key))
        where = (relative_path(file or loaded.files[0], loaded.root), line)
        name = lookup(key, specs, aliases)
        if name is None:
            raise ConfigError(
                f"fields names unknown model '{key}'",
                file=where[0],
                line=where[1],
                hint=f"known models: {', '.join(sorted(specs))}",
            )
        out[name] = _merged(out[name], columns, where)
    return out


def _merged(spec: ModelSpec, columns: dict[str, Any], where: tuple[str, int | None]) -> ModelSpec:
    options = spec.options
    as_mappings = {c: v if isinstance(v, dict) else {"type": v} for c, v in columns.items()}
    for column, value in as_mappings.items():
        if column in options.column_docs:  # the model documents it: the config fills the gaps
            own = options.column_docs[column]
            value = {k: v for k, v in value.items() if k != "type" and not getattr(own, k, None)}
            as_mappings[column] = value
    try:
        split = split_fields(
            {"fields": as_mappings, "quality_checks": ()}, where, spec.name, where[1]
        )
    except ModelDefinitionError as exc:
        message = exc.message.replace("fields:", f"fields of '{spec.name}':", 1)
        raise ConfigError(message, file=where[0], line=where[1], hint=exc.hint) from None
    types = {c: t for c, t in split["fields"].items() if c not in options.fields}
    for column, declared in types.items():
        try:
            to_sql_type(declared)
        except TypeSpecError as exc:
            raise ConfigError(
                f"fields of '{spec.name}': column '{column}': {exc}",
                file=where[0],
                line=where[1],
            ) from None
    docs = dict(split["column_docs"])
    for column, own in options.column_docs.items():
        extra = docs.get(column)
        docs[column] = (
            own
            if extra is None
            else own.model_copy(update={k: v for k, v in extra.model_dump().items() if v})
        )
    checks = tuple(split.get("quality_checks", ()))
    updated = options.model_copy(
        update={
            "fields": {**options.fields, **types},
            "column_docs": docs,
            "quality_checks": options.quality_checks + checks,
        }
    )
    return replace(spec, options=updated)
