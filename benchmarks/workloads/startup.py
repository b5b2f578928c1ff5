"""startup: wall time of the ``interlace`` command, each call a fresh subprocess.

* ``interlace --help`` (target <= 0.3 s)
* ``interlace info --no-check`` on a copy of examples/quickstart (target <= 1 s): loads the
  config and every model (the quickstart's Python models import numpy and pyarrow)

The baseline is ``python -c pass`` (the interpreter alone). Repetitions: at least 5 (smoke size:
as asked); the first call of each command is an untimed warm-up (page cache, bytecode). Bytecode
is cached in a private folder even where PYTHONDONTWRITEBYTECODE is set (see
:func:`benchmarks.core.subprocess_env`).

Under ``--profile startup`` the two commands also run once under cProfile and once with
``-X importtime``, and the slowest imports are listed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.core import REPO_ROOT, Bench, Figure, median, subprocess_env

QUICKSTART = REPO_ROOT / "examples" / "quickstart"


def interlace_command() -> list[str]:
    script = Path(sys.executable).parent / "interlace"
    if script.exists():
        return [str(script)]
    found = shutil.which("interlace")
    if found:
        return [found]
    return [sys.executable, "-m", "interlace_cli.main"]


def _env() -> dict[str, str]:
    return subprocess_env()


def _call(args: list[str], cwd: Path) -> float:
    import time

    started = time.perf_counter()
    completed = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} exited {completed.returncode}: {completed.stderr[-2000:]}"
        )
    return elapsed


def run(bench: Bench) -> list[Figure]:
    project = bench.folder("quickstart")
    shutil.copytree(
        QUICKSTART, project, dirs_exist_ok=True, ignore=shutil.ignore_patterns("data", ".interlace")
    )
    reps = bench.pick(max(5, bench.reps), max(3, bench.reps), bench.reps)
    cli = interlace_command()
    commands = {
        "python": [sys.executable, "-c", "pass"],
        "help": [*cli, "--help"],
        "info": [*cli, "info", "--no-check"],
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    for args in commands.values():
        _call(args, project)  # warm-up
    bench.log(f"{reps} repetition(s)")
    for _ in range(reps):
        for key, args in commands.items():
            times[key].append(_call(args, project))
    if bench.profile:
        bench.reports["startup"] = profile_report(bench, project)
    base = median(times["python"])
    return [
        Figure(
            "startup",
            "interlace --help",
            median(times["help"]),
            base,
            kind="seconds",
            target=0.3,
            samples={"interlace": times["help"], "raw": times["python"]},
            note="raw = `python -c pass`",
        ),
        Figure(
            "startup",
            "interlace info --no-check (quickstart)",
            median(times["info"]),
            base,
            kind="seconds",
            target=1.0,
            samples={"interlace": times["info"], "raw": times["python"]},
        ),
    ]


PROFILE_CHILD = """
import cProfile, io, pstats, sys
sys.argv = ["interlace", *sys.argv[1:]]
from interlace_cli.main import main
profile = cProfile.Profile()
profile.enable()
try:
    main()
except SystemExit:
    pass
profile.disable()
out = io.StringIO()
pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
sys.stderr.write("@@PROFILE@@" + out.getvalue())
"""

IMPORT_CHILD = """
import sys
sys.argv = ["interlace", *sys.argv[1:]]
from interlace_cli.main import main
try:
    main()
except SystemExit:
    pass
"""


def profile_report(bench: Bench, project: Path) -> str:
    from benchmarks.core import shorten_paths

    parts = []
    for args in (["--help"], ["info", "--no-check"]):
        title = "interlace " + " ".join(args)
        done = subprocess.run(
            [sys.executable, "-c", PROFILE_CHILD, *args],
            cwd=project,
            env=_env(),
            capture_output=True,
            text=True,
        )
        text = done.stderr.split("@@PROFILE@@", 1)[-1]
        start = text.find("   ncalls")
        parts.append(f"===== profile: startup / {title} (cprofile) =====\n{text[start:]}")
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", IMPORT_CHILD, *args],
            cwd=project,
            env=_env(),
            capture_output=True,
            text=True,
        )
        parts.append(
            f"--- slowest imports of `{title}` (-X importtime) ---\n" + _imports(done.stderr)
        )
    return shorten_paths("\n".join(parts))


def _imports(stderr: str, top: int = 20) -> str:
    """The slowest imports of an ``-X importtime`` log, by cumulative and by own time."""
    rows: list[tuple[int, int, str]] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue
        rows.append((int(fields[1]), int(fields[0]), fields[2].rstrip()))
    lines = ["cumulative ms  self ms  module"]
    for cumulative, own, name in sorted(rows, reverse=True)[:top]:
        lines.append(f"{cumulative / 1000:13.1f}  {own / 1000:7.1f}  {name}")
    lines += ["", "self ms  module (by own time)"]
    for _cumulative, own, name in sorted(rows, key=lambda r: r[1], reverse=True)[:top]:
        lines.append(f"{own / 1000:7.1f}  {name.strip()}")
    return "\n".join(lines)
