"""One error hierarchy for everything Interlace reports to people.

Every error carries enough context to act on: where it happened (file, line, model, key) and,
where we know it, what to do about it (``hint``).
"""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (a driver's often runs on), else its type."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class InterlaceError(Exception):
    """Base class of every error Interlace raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        file: str | None = None,
        line: int | None = None,
        model: str | None = None,
        user_traceback: str | None = None,
    ) -> None:
        self.message = message
        self.hint = hint
        self.file = file
        self.line = line
        self.model = model
        # the traceback of the project's own code that raised it (a model's exception), shown
        # to the user instead of Interlace's frames
        self.user_traceback = user_traceback
        super().__init__(self.render())

    @property
    def location(self) -> str | None:
        if self.file is None:
            return None
        return f"{self.file}:{self.line}" if self.line else self.file

    def render(self) -> str:
        parts = []
        if self.location:
            parts.append(f"{self.location}: ")
        if self.model:
            parts.append(f"model '{self.model}': ")
        parts.append(self.message)
        if self.hint:
            parts.append(f"\n  hint: {self.hint}")
        return "".join(parts)


class ConfigError(InterlaceError):
    """The project configuration is invalid."""


class ExtensionError(ConfigError):
    """An installed extension (an ``interlace.hooks`` entry point) failed or broke a rule."""


class ProjectError(InterlaceError):
    """The project folder cannot be loaded (missing config, duplicate models, bad files)."""


class ModelDefinitionError(InterlaceError):
    """A model is declared wrongly (decorator keyword, SQL header, unsupported value)."""


class SQLParseError(ModelDefinitionError):
    """A SQL model does not parse."""


class GraphError(InterlaceError):
    """The dependency graph is invalid (cycle, unknown dependency)."""


class SelectionError(InterlaceError):
    """A model selection matched nothing or is malformed."""


class ModelExecutionError(InterlaceError):
    """A model failed while running or being written."""


class SchemaChangeError(ModelExecutionError):
    """The result's schema conflicts with the table under the model's schema_mode."""


class UnsupportedResultError(ModelExecutionError):
    """A Python model returned a value Interlace cannot materialize."""


class InterlaceConnectionError(InterlaceError):
    """A connection cannot be opened or used."""


class StateStoreError(InterlaceError):
    """The state store cannot be read or written."""


class RunCancelledError(InterlaceError):
    """The run was cancelled (Ctrl-C or an API request)."""
