"""What `fl.track()` + `fl.finish()` add to a script (target: at most 50 ms over `import flowledger`).

Case measured: bytecode compiled (into a scratch PYTHONPYCACHEPREFIX by a warm-up run; the venv is
not touched), scripts run as `python script.py` in fresh interpreters in a scratch folder, with
FLOWLEDGER_DB pointing at a scratch ledger. Each round runs, in rotating order:

    import   a script that does `import flowledger as fl`                           (baseline)
    track    `import flowledger as fl; fl.track(); fl.finish()`, ledger and environment snapshot
             already there (every run after the first)
    first    the same script against a new ledger: creates the ledger and writes the snapshot
    against  with `--against SRC`: `track` with the folder SRC first on PYTHONPATH (another version of
             the core, e.g. `git archive HEAD core | tar -x -C /tmp/old` and SRC=/tmp/old/core/src)

Output: the median wall time of each case and its difference from `import` (what tracking costs), and
the same for CPU time (user + sys of the child: steadier when other processes load the machine).

    uv run python bench/track_cost.py             # 20 rounds
    uv run python bench/track_cost.py -n 5        # quick
"""

import argparse
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPTS = {"import": "import flowledger as fl\n", "track": "import flowledger as fl\nfl.track()\nfl.finish()\n"}


def wall(script: Path, env: dict, db: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + sys) of a fresh interpreter running `script`, in seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, str(script)], cwd=script.parent, env={**env, "FLOWLEDGER_DB": str(db)}, check=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--runs", type=int, default=20, help="rounds (default 20)")
    parser.add_argument("--against", metavar="SRC", help="also measure `track` with SRC first on PYTHONPATH")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowledger-bench-") as scratch:
        root = Path(scratch)
        env = {**os.environ, "PYTHONPYCACHEPREFIX": str(root / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        scripts = {name: root / f"{name}.py" for name in SCRIPTS}
        for name, text in SCRIPTS.items():
            scripts[name].write_text(text)
        ledger = root / "ledger" / "ledger.db"
        cases = {
            "import": lambda i: wall(scripts["import"], env, ledger),
            "track": lambda i: wall(scripts["track"], env, ledger),
            "first": lambda i: wall(scripts["track"], env, root / f"first-{i}" / "ledger.db"),
        }
        if args.against:
            other = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [args.against, env.get("PYTHONPATH")]))}
            cases["against"] = lambda i: wall(scripts["track"], other, root / "against" / "ledger.db")
        for case in cases.values():  # warm-up: bytecode, the shared ledger and its snapshot
            case(-1)
        print(
            f"bytecode compiled (scratch PYTHONPYCACHEPREFIX, by a warm-up run); {args.runs} rounds of "
            f"fresh `{Path(sys.executable).name} script.py`, cases interleaved in rotating order",
            flush=True,
        )
        times = {name: [] for name in cases}
        names = list(cases)
        for i in range(args.runs):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                times[name].append(cases[name](i))
        with sqlite3.connect(ledger) as conn:
            done = conn.execute("SELECT count(*) FROM runs WHERE status = 'completed'").fetchone()[0]
        snapshots = sorted(p.name for p in (ledger.parent / "environments").iterdir())
    medians = {name: statistics.median(s for s, _ in rows) * 1e3 for name, rows in times.items()}
    cpu = {name: statistics.median(c for _, c in rows) * 1e3 for name, rows in times.items()}
    print("  case     median wall ms (over import)   median CPU ms (over import)")
    for name in cases:
        print(
            f"  {name:8s} {medians[name]:8.1f} ({medians[name] - medians['import']:+7.1f})         "
            f"{cpu[name]:8.1f} ({cpu[name] - cpu['import']:+7.1f})"
        )
    print(f"  (shared ledger: {done} completed runs, expected {args.runs + 1}; snapshot files: {', '.join(snapshots)})")
    track, first = medians["track"] - medians["import"], medians["first"] - medians["import"]
    print(
        f"track_cost: fl.track() + fl.finish() +{track:.0f} ms over the import (median of {args.runs}; "
        f"target <= 50 ms: {'ok' if track <= 50 else 'OVER'}; CPU +{cpu['track'] - cpu['import']:.0f} ms), "
        f"first run on a new ledger +{first:.0f} ms"
    )


if __name__ == "__main__":
    main()
