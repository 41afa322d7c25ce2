"""How long `import flowledger` takes, what it pulls in, and what the first ledger open adds.

Each measurement is a fresh interpreter, with a warm bytecode cache (kept in a scratch folder through
PYTHONPYCACHEPREFIX, as an installed package has one), plus `import flowledger` without any cache
(PYTHONDONTWRITEBYTECODE=1: every module compiled from source). The baseline, measured in the same
run, is an interpreter that imports only `sqlite3` (what any SQLite-backed tool must load).

    uv run python bench/core_import.py            # 20 fresh processes each
    uv run python bench/core_import.py -n 5       # quick
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

# Modules flowledger must not load: heavy data libraries and the workflow managers themselves.
FORBIDDEN = ("pandas", "numpy", "IPython", "nbconvert", "snakemake", "redun")
TIMED = """
import sys, time
before = set(sys.modules)
start = time.perf_counter()
{code}
elapsed = time.perf_counter() - start
print(elapsed, " ".join(sorted({{m.partition(".")[0] for m in set(sys.modules) - before}}
                                - set(sys.stdlib_module_names) - {{"_distutils_hack"}})))
"""
CASES = {"sqlite3": "import sqlite3", "flowledger": "import flowledger",
         "open": "import flowledger.store as s; s.get_ledger()"}


def timed(code: str, env: dict) -> tuple[float, set]:
    """In a fresh interpreter: seconds that `code` took, and the non-stdlib packages it loaded."""
    done = subprocess.run([sys.executable, "-c", TIMED.format(code=code)], capture_output=True, text=True,
                          env=env, check=True)
    seconds, *loaded = done.stdout.split()
    return float(seconds), set(loaded)


def medians(runs: int, env: dict) -> dict[str, tuple[float, set]]:
    """Each case `runs` times, interleaved so that a busy moment of the machine hits all of them alike."""
    results = {name: [] for name in CASES}
    for _ in range(runs):
        for name, code in CASES.items():
            results[name].append(timed(code, env))
    return {name: (statistics.median(s for s, _ in rows), set().union(*(p for _, p in rows)))
            for name, rows in results.items()}


def importtime(env: dict, code: str) -> list[tuple[int, int, int, str]]:
    """(self us, cumulative us, depth, module) for each module `-X importtime` reports for `code`."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                          env=env, check=True)
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((int(match.group(1)), int(match.group(2)), len(match.group(3)) // 2, match.group(4)))
    return rows


def show_offenders(title: str, rows: list, top: int) -> None:
    """The biggest subtrees (two levels deep) and the slowest modules by their own time."""
    print(f"\n-X importtime, {title}: biggest subtrees (cumulative ms) | slowest modules (own ms)")
    subtrees = sorted((r for r in rows if r[2] <= 2), key=lambda r: -r[1])[:top]
    own = sorted(rows, key=lambda r: -r[0])[:top]
    for (_, cumulative, depth, module), (self_us, _, _, slow) in zip(subtrees, own):
        print(f"  {cumulative / 1e3:7.1f}  {'  ' * depth + module:<40} | {self_us / 1e3:6.1f}  {slow}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=20, help="fresh interpreters per measurement")
    parser.add_argument("--top", type=int, default=12, help="how many -X importtime rows to show")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowledger-bench-") as scratch:
        env = {**os.environ, "FLOWLEDGER_DB": os.path.join(scratch, "ledger.db"),
               "PYTHONPYCACHEPREFIX": os.path.join(scratch, "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([sys.executable, "-c", CASES["open"]], env=env, check=True)  # the ledger, the pyc files
        found = medians(args.runs, env)
        no_cache = {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": os.path.join(scratch, "none")}
        uncached = statistics.median(timed(CASES["flowledger"], no_cache)[0] for _ in range(max(3, args.runs // 4)))
        import_rows = importtime(env, CASES["flowledger"])
        open_rows = importtime(env, CASES["open"])
    (baseline, _), (imported, loaded), (opened, loaded_open) = found.values()
    print(f"import sqlite3 (baseline)               median {baseline * 1e3:7.1f} ms")
    print(f"import flowledger                       median {imported * 1e3:7.1f} ms  ({imported / baseline:.1f}x)")
    print(f"import flowledger, no bytecode cache    median {uncached * 1e3:7.1f} ms  ({uncached / baseline:.1f}x)")
    print(f"import + open an existing ledger        median {opened * 1e3:7.1f} ms  ({opened / baseline:.1f}x)")
    show_offenders("import flowledger", import_rows, args.top)
    known = {module for *_, module in import_rows}
    show_offenders("what opening a ledger imports on top", [r for r in open_rows if r[3] not in known], args.top)
    print(f"\npackages `import flowledger` loads: {' '.join(sorted(loaded))}")
    print(f"and opening a ledger adds (plugins): {' '.join(sorted(loaded_open - loaded))}")
    heavy = sorted((loaded | loaded_open) & set(FORBIDDEN))
    print(f"forbidden modules loaded: {', '.join(heavy) if heavy else 'none'} (checked: {', '.join(FORBIDDEN)})")
    print(f"core_import: import flowledger {imported * 1e3:.0f} ms median of {args.runs} "
          f"({imported / baseline:.1f}x import sqlite3), +ledger open {opened * 1e3:.0f} ms, "
          f"heavy/workflow modules: {', '.join(heavy) or 'none'}")
    if heavy:
        sys.exit(1)


if __name__ == "__main__":
    main()
