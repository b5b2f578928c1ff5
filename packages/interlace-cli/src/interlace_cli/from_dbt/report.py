"""What a conversion did, and exactly what it could not convert (with file and line).

The report is written into the new project as ``CONVERSION.md`` and summed up on the terminal.
Every item names the dbt file and line it comes from, what was not converted and what to do.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Issue:
    """One thing that was not converted (or converted with a difference to know about)."""

    file: str  # relative to the dbt project
    line: int | None
    what: str
    todo: str | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class Report:
    """Issues and counts of one conversion."""

    project: str
    issues: list[Issue] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    # dbt files that could not be rendered, copied to dbt_unconverted/ for porting by hand
    unconverted: list[str] = field(default_factory=list)

    def add(self, file: str, line: int | None, what: str, todo: str | None = None) -> None:
        issue = Issue(file, line, what, todo)
        if issue not in self.issues:
            self.issues.append(issue)

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] += n

    def summary(self) -> str:
        """One line: what was converted."""
        parts = [
            f"{self.counts[key]} {label}"
            for key, label in (
                ("models", "model(s)"),
                ("seeds", "seed(s)"),
                ("snapshots", "snapshot(s)"),
                ("checks", "check(s)"),
                ("sources", "source table(s)"),
            )
            if self.counts[key]
        ]
        return ", ".join(parts) or "nothing"

    def render(self) -> str:
        """``CONVERSION.md``."""
        lines = [
            f"# Conversion of the dbt project '{self.project}'",
            "",
            f"Converted: {self.summary()}.",
            "",
        ]
        if self.unconverted:
            lines += [
                "## Files not converted",
                "",
                "These could not be rendered; their dbt source is kept in `dbt_unconverted/` "
                "to port by hand (see the items below for why):",
                "",
                *[f"- `{path}`" for path in sorted(self.unconverted)],
                "",
            ]
        lines += ["## Not converted, or converted with a difference", ""]
        if not self.issues:
            lines.append("Nothing: every model, seed, snapshot, test and source was converted.")
        for issue in sorted(self.issues, key=lambda i: (i.file, i.line or 0, i.what)):
            todo = f" — {issue.todo}" if issue.todo else ""
            lines.append(f"- `{issue.where}`: {issue.what}{todo}")
        lines.append("")
        return "\n".join(lines)


__all__ = ["Issue", "Report"]
