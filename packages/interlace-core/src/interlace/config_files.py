"""Reading config files for people: YAML with the line of every key (so errors can name
``config.yaml:12``), ``.env`` files, ``${VAR}`` / ``${VAR:-default}`` interpolation and the
overlay of ``config.{env}.yaml`` on ``config.yaml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from interlace.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path


@dataclass
class KeyLocations:
    """Key path -> (file, line) for every key we read, so errors can point at the line."""

    lines: dict[tuple[str, ...], tuple[Path, int]] = field(default_factory=dict)

    def where(self, path: tuple[Any, ...]) -> tuple[Path | None, int | None]:
        keys = tuple(str(p) for p in path)
        while keys:
            if keys in self.lines:
                return self.lines[keys]
            keys = keys[:-1]
        return None, None


def _map_locations(node: yaml.Node, file: Path, prefix: tuple[str, ...], out: KeyLocations) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*prefix, str(key_node.value))
            out.lines[key] = (file, key_node.start_mark.line + 1)
            _map_locations(value_node, file, key, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.lines[(*prefix, str(i))] = (file, item.start_mark.line + 1)
            _map_locations(item, file, (*prefix, str(i)), out)


# libyaml's loader where PyYAML was built with it (about ten times faster: a config with
# 10,000 named schedules), else PyYAML's own
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for the line of each key) and its data, in one parse."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def read_yaml(file: Path, source: KeyLocations) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror}", file=str(file)) from None
    try:
        node, data = _parse(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        # the context says what was being read and where it started (an unclosed quote or
        # bracket is only noticed lines later)
        context = getattr(exc, "context", None)
        context_mark = getattr(exc, "context_mark", None)
        if (
            context
            and context_mark is not None
            and mark is not None
            and context_mark.line != mark.line
        ):
            problem += f" ({context} that starts on line {context_mark.line + 1})"
        raise ConfigError(
            f"invalid YAML: {problem}",
            file=str(file),
            line=mark.line + 1 if mark else None,
            hint="check indentation and quoting around this line",
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"the config must be a mapping of keys, got {type(data).__name__}",
            file=str(file),
            line=1,
        )
    if node is not None:
        _map_locations(node, file, (), source)
    return data


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Merge ``overlay`` over ``base``: mappings merge recursively, everything else replaces."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def read_dotenv(file: Path) -> dict[str, str]:
    """Parse a ``.env`` file: ``KEY=value`` lines, ``#`` comments, optional quotes/``export``."""
    values: dict[str, str] = {}
    if not file.is_file():
        return values
    for raw_line in file.read_text(encoding="utf-8").splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(
    value: Any,
    path: tuple[str, ...],
    env_name: str,
    variables: dict[str, str],
    source: KeyLocations,
    replace_env: bool,
) -> Any:
    if isinstance(value, dict):
        shared = bool(value.get("shared")) and len(path) == 2 and path[0] == "connections"
        return {
            k: interpolate(
                v, (*path, str(k)), env_name, variables, source, replace_env and not shared
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            interpolate(v, (*path, str(i)), env_name, variables, source, replace_env)
            for i, v in enumerate(value)
        ]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in variables:
            return variables[name]
        if default is not None:
            return default
        file, line = source.where(path)
        raise ConfigError(
            f"'{'.'.join(path)}' uses ${{{name}}}, which is not set",
            file=str(file) if file else None,
            line=line,
            hint=f"export {name}=..., add it to .env beside the config, "
            f"or give a default: ${{{name}:-value}}",
        )

    result = _VAR.sub(sub, value)
    if replace_env:
        result = result.replace("{env}", env_name)
    return result


# --------------------------------------------------------------------------- validation errors
