"""plan: `interlace plan` and column lineage of a large project (issue 16).

The ``dag`` workload's generated project of N SQL models, built once (untimed). Then:

* plan, parse cache: ``interlace.plan.plan_project`` on the built project (loads it with the
  parse cache, reads the state, decides every model, reads the stored lineage); target <= 1 s
  for 1000 models.
* plan, no parse cache: the same with ``.interlace/parse-cache.json`` deleted before each call
  (every SQL file is parsed again); target <= 3 s for 1000 models.
* lineage, first trace: every model traced with sqlglot (nothing stored yet), for reference.
* lineage, one model edited: only that model is traced again (the figure's note says how many
  were traced), the rest read from the state store.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from benchmarks.core import Bench, Figure, check_run, median
from benchmarks.workloads.dag import generate, write_project

if TYPE_CHECKING:
    from pathlib import Path


def _clear_lineage(project: Path) -> None:
    import sqlite3

    db = sqlite3.connect(project / ".interlace" / "state.db")
    try:
        db.execute("DELETE FROM column_lineage")
        db.commit()
    finally:
        db.close()


def _trace_into(out: list[list[str]], project: Any, store: Any) -> None:
    from interlace.project_lineage import lineage_with_stats

    out.append(lineage_with_stats(project, store)[1])


def run(bench: Bench) -> list[Figure]:
    import interlace
    from interlace.opening import open_state
    from interlace.plan import plan_project
    from interlace.project import load_project
    from interlace.project_lineage import lineage_with_stats

    sizes = bench.options.get("models") or bench.pick((1000,), (200,), (50,))
    figures: list[Figure] = []
    for n in sizes:
        models = generate(n)
        project = bench.folder(f"plan_{n}")
        write_project(project, models)
        check_run(interlace.run_sync(project))
        plan_project(project)  # traces and stores the lineage once
        cached: list[float] = []
        uncached: list[float] = []
        first: list[float] = []
        edited: list[float] = []
        traced_after_edit = 0
        for _ in range(bench.reps):
            seconds = bench.interlace(
                f"plan, parse cache, {n} models", partial(plan_project, project)
            )
            cached.append(seconds)
            (project / ".interlace" / "parse-cache.json").unlink(missing_ok=True)
            uncached.append(
                bench.interlace(f"plan, no parse cache, {n} models", partial(plan_project, project))
            )
            loaded = load_project(project)
            store = open_state(loaded)
            try:
                _clear_lineage(project)
                first.append(
                    bench.interlace(
                        f"lineage, first trace, {n} models",
                        partial(lineage_with_stats, loaded, store),
                    )
                )
                name, sql, _ = models[-1]
                target = next(project.glob(f"models/**/{name}.sql"))
                target.write_text(f"-- edited\n{sql} where 1 = 1\n", encoding="utf-8")
                changed = load_project(project)
                traced: list[list[str]] = []
                edited.append(
                    bench.interlace(
                        f"lineage, one model edited, {n} models",
                        partial(_trace_into, traced, changed, store),
                    )
                )
                traced_after_edit = len(traced[-1])
                target.write_text(f"-- a generated model\n{sql}\n", encoding="utf-8")
            finally:
                store.close()
        big = n >= 1000
        figures += [
            Figure(
                "plan",
                f"plan, parse cache, {n} models",
                median(cached),
                None,
                kind="seconds",
                target=1.0 if big else None,
                samples={"interlace": cached},
            ),
            Figure(
                "plan",
                f"plan, no parse cache, {n} models",
                median(uncached),
                None,
                kind="seconds",
                target=3.0 if big else None,
                samples={"interlace": uncached},
            ),
            Figure(
                "plan",
                f"lineage, first trace, {n} models",
                median(first),
                None,
                kind="seconds",
                samples={"interlace": first},
            ),
            Figure(
                "plan",
                f"lineage, one model edited ({traced_after_edit} traced again), {n} models",
                median(edited),
                None,
                kind="seconds",
                note=f"{traced_after_edit} model(s) traced again",
                samples={"interlace": edited},
            ),
        ]
    return figures
