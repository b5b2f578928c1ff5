"""Checks of a loaded project's specs and resolving their dependencies.

Names that differ only by case, views that cannot be views, quality checks that reference
other models, and each model's references resolved to model names (with aliases).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from interlace.errors import (
    GraphError,
    ModelDefinitionError,
    ProjectError,
)
from interlace.quality import Audit
from interlace.spec import (
    RESERVED_PARAMETERS,
    ModelSpec,
)

if TYPE_CHECKING:
    from interlace.config import LoadedConfig
from interlace.model_files import relative_path


def check_case_clashes(specs: Mapping[str, ModelSpec]) -> None:
    """Two models whose names differ only by case would be one table: SQL folds the case of
    names (and our references do too), so the second publish would fail or overwrite."""
    seen: dict[tuple[str, str | None, str, str], ModelSpec] = {}
    for spec in specs.values():
        key = (spec.connection, spec.database, spec.schema.lower(), spec.name.lower())
        other = seen.setdefault(key, spec)
        if other is spec:
            continue
        raise ProjectError(
            f"models '{other.name}' ({other.location}) and '{spec.name}' ({spec.location}) "
            f"differ only by case, so both would be the table {spec.schema}.{spec.name.lower()} "
            f"on connection '{spec.connection}'",
            file=spec.file,
            line=spec.line,
            hint="rename one of them (the function, `name=...`, or `-- @name:` in a SQL "
            "header), or give one another schema",
        )


def check_views(specs: dict[str, ModelSpec]) -> None:
    """A view must not read a Python ephemeral/none model: its data is gone after the run."""

    def in_run_source(name: str) -> str | None:
        spec = specs[name]
        if spec.fn is not None and spec.materialize in ("ephemeral", "none"):
            return name
        if spec.kind == "sql" and spec.materialize == "ephemeral":  # inlined: look through it
            for parent in spec.depends_on:
                found = in_run_source(parent)
                if found is not None:
                    return found
        return None

    for spec in specs.values():
        if spec.materialize != "view":
            continue
        for parent in spec.depends_on:
            found = in_run_source(parent)
            if found is not None:
                raise ModelDefinitionError(
                    f"the view reads '{found}', a Python {specs[found].materialize} model whose "
                    "data exists only during a run, so the view would break when the run ends",
                    file=spec.file,
                    line=spec.line,
                    model=spec.name,
                    hint=f"materialize '{spec.name}' as a table, or make '{found}' a table",
                )


def collect_checks(
    loaded: LoadedConfig, specs: dict[str, ModelSpec], aliases: dict[str, str]
) -> dict[str, list[Any]]:
    """Declared checks (model option, SQL header, config) validated by the check runner."""
    from interlace.errors import ConfigError
    from interlace.plugins import runner_or_error

    config, root = loaded.config, loaded.root

    def where(*path: str) -> tuple[str, int | None]:
        file, line = loaded.locations.where(("quality", "checks", *path))
        return relative_path(file or loaded.files[0], root), line

    for name in config.quality.checks:
        if name not in specs and name not in aliases:
            file, line = where(name)
            raise ConfigError(
                f"quality.checks names unknown model '{name}'",
                file=file,
                line=line,
                hint=f"known models: {', '.join(sorted(specs))}",
            )
    out: dict[str, list[Any]] = {}
    for name, spec in specs.items():
        declared = list(spec.options.quality_checks)
        configured: list[Any] = []
        locations: list[tuple[str | None, int | None]] = []
        for key in (name, f"{spec.schema}.{name}"):
            listed = config.quality.checks.get(key, [])
            configured += listed
            locations += [where(key, str(i)) for i in range(len(listed))]
        if declared or configured:
            runner = runner_or_error(name, spec.file, spec.line)
            # each check is validated where it is written: the model, or the config file
            out[name] = runner.validate(name, declared, spec.file, spec.line) if declared else []
            if configured:
                out[name] += runner.validate(
                    name, configured, locations[0][0], locations[0][1], locations=locations
                )
    return out


def with_check_references(
    specs: dict[str, ModelSpec], checks: dict[str, list[Any]], aliases: dict[str, str]
) -> list[Audit]:
    """Models a check reads (its ``references``, e.g. a relationships check's target) become
    upstreams of the checked model (updated in ``specs``), so the check sees their data of
    the same run. A check that reads a model which reads the checked model (a cycle) becomes
    an audit instead: it runs after both are built, and orders nothing."""
    from dataclasses import replace

    audits: list[Audit] = []
    for name, declared in checks.items():
        for check in declared:
            later: list[str] = []
            for ref in getattr(check, "references", ()):
                target = lookup(ref, specs, aliases)
                if target is None or target == name or target in specs[name].depends_on:
                    continue
                if reads(specs, target, name):
                    later.append(target)
                    continue
                spec = specs[name]
                specs[name] = replace(spec, depends_on=(*spec.depends_on, target))
            if later:
                audits.append(Audit(model=name, check=check, after=tuple(later)))
    return audits


def reads(specs: Mapping[str, ModelSpec], reader: str, model: str) -> bool:
    """Whether ``reader`` reads ``model``, directly or through other models."""
    seen: set[str] = set()
    stack = [reader]
    while stack:
        current = stack.pop()
        for parent in specs[current].depends_on:
            if parent == model:
                return True
            if parent not in seen and parent in specs:
                seen.add(parent)
                stack.append(parent)
    return False


def aliases_of(specs: Mapping[str, ModelSpec]) -> dict[str, str]:
    """``schema.name`` spellings, and lower-case forms for case-insensitive SQL references."""
    aliases = {f"{spec.schema}.{spec.name}": spec.name for spec in specs.values()}
    for spec in specs.values():
        for key in (spec.name.lower(), f"{spec.schema}.{spec.name}".lower()):
            if key not in specs:
                aliases.setdefault(key, spec.name)
    return aliases


def lookup(ref: str, specs: Mapping[str, ModelSpec], aliases: Mapping[str, str]) -> str | None:
    """A model by name or ``schema.name``; SQL identifiers are case-insensitive, so are we."""
    if ref in specs:
        return ref
    return aliases.get(ref) or aliases.get(ref.lower())


def resolve_dependencies(
    spec: ModelSpec,
    specs: dict[str, ModelSpec],
    aliases: dict[str, str],
    refs: tuple[str, ...] | None,
) -> ModelSpec:
    options = spec.options
    explicit_map = options.dependencies if isinstance(options.dependencies, dict) else {}
    explicit_list = () if isinstance(options.dependencies, dict) else options.dependencies
    upstream: list[str] = []

    def need(ref: str, what: str) -> str:
        target = lookup(ref, specs, aliases)
        if target is None:
            import difflib

            close = difflib.get_close_matches(ref, list(specs) + list(aliases), n=1)
            raise GraphError(
                f"{what} names unknown model '{ref}'",
                file=spec.file,
                line=spec.line,
                model=spec.name,
                hint=(f"did you mean '{close[0]}'? " if close else "")
                + "`interlace info` lists models",
            )
        return target

    inputs: dict[str, str] = {}
    wants_context = False
    if spec.fn is not None:  # a Python model, or a built node of an extension kind
        for param in inspect.signature(spec.fn).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if param.name == "context":
                wants_context = True
                continue
            if param.name in RESERVED_PARAMETERS:
                continue
            if param.name in explicit_map:
                inputs[param.name] = need(explicit_map[param.name], f"dependencies['{param.name}']")
            elif lookup(param.name, specs, aliases):
                inputs[param.name] = str(lookup(param.name, specs, aliases))
            elif param.default is param.empty:
                raise GraphError(
                    f"parameter '{param.name}' is not a model",
                    file=spec.file,
                    line=spec.line,
                    model=spec.name,
                    hint="name a parameter like an upstream model, map it with "
                    "dependencies={'param': 'model'}, give it a default, or remove it",
                )
        for param_name in explicit_map:
            if param_name not in inputs:
                raise GraphError(
                    f"dependencies maps '{param_name}', which is not a parameter of the function",
                    file=spec.file,
                    line=spec.line,
                    model=spec.name,
                    hint="use a list for dependencies that are not parameters",
                )
        upstream.extend(inputs.values())
    else:
        for ref in refs or ():
            target = lookup(ref, specs, aliases)
            if target is not None and target != spec.name:
                upstream.append(target)
        if isinstance(options.dependencies, dict):
            kind = "SQL model" if spec.kind == "sql" else spec.kind
            raise ModelDefinitionError(
                f"dependencies of a {kind} is a list of model names",
                file=spec.file,
                line=spec.line,
                model=spec.name,
            )
    for ref in explicit_list:
        upstream.append(need(ref, "dependencies"))
    from dataclasses import replace

    return replace(
        spec, inputs=inputs, wants_context=wants_context, depends_on=tuple(dict.fromkeys(upstream))
    )
