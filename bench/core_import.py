"""`import flowledger` over a bare interpreter (target: at most 100 ms more than `python -c pass`).

Case measured: bytecode compiled. `uv sync` does not compile bytecode (and PYTHONDONTWRITEBYTECODE
may be set), so this script first compiles it into a scratch PYTHONPYCACHEPREFIX, as `uv sync
--compile-bytecode` would beside the sources: by a warm-up run of the cases (default), or with
`--compileall` by `python -m compileall` over site-packages and the workspace src folders. The venv
is not touched. Each round runs, in fresh interpreters and in rotating order:

    pass          python -c pass                          (baseline: interpreter start-up + site)
    import        python -c "import flowledger"           (bytecode compiled)
    no-bytecode   python -c "import flowledger"           (no bytecode at all, as after a plain uv sync)
    open          import flowledger + a query that opens an existing ledger (plugins, migrations check)

Output: the median wall time of each case and its difference from `pass` (the import's own cost),
and the same for CPU time (user + sys of the child: steadier when other processes load the machine);
`-X importtime` offenders of the compiled import (biggest cumulative | biggest own time); the
packages loaded, failing if a heavy or workflow-manager module (pandas, Snakemake, ...) is among them.

    uv run python bench/core_import.py            # 20 rounds
    uv run python bench/core_import.py -n 5       # quick
"""

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time

FORBIDDEN = ("pandas", "numpy", "IPython", "nbconvert", "snakemake", "redun")
OPEN = "import flowledger as fl; fl.Run.filter(id=0).count()"
CASES = {"pass": "pass", "import": "import flowledger", "no-bytecode": "import flowledger", "open": OPEN}
LOADED = "import sys; {code}; print(' '.join(sorted({{m.partition('.')[0] for m in sys.modules}})))"


def wall(code: str, env: dict) -> tuple[float, float]:
    """Seconds a fresh interpreter running `code` takes, start to exit: wall time, and CPU time (user + sys)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def importtime(env: dict, code: str, runs: int = 3) -> list[tuple[float, float, int, str]]:
    """(own us, cumulative us, depth, module), medians of `runs` runs of `-X importtime` on `code`."""
    found: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, env=env, check=True
        )
        for line in done.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
            if match:
                key = (len(match.group(3)) // 2, match.group(4))
                found.setdefault(key, []).append((int(match.group(1)), int(match.group(2))))
    return [
        (statistics.median(o for o, _ in times), statistics.median(c for _, c in times), depth, module)
        for (depth, module), times in found.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--runs", type=int, default=20, help="rounds (fresh interpreters per case)")
    parser.add_argument("--top", type=int, default=10, help="-X importtime rows to show (0: none)")
    parser.add_argument(
        "--compileall",
        action="store_true",
        help="compile all of site-packages and the src folders, not just what the cases import",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowledger-bench-") as scratch:
        env = {
            **os.environ,
            "FLOWLEDGER_DB": os.path.join(scratch, "ledger.db"),
            "PYTHONPYCACHEPREFIX": os.path.join(scratch, "pycache"),
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        bare = {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": os.path.join(scratch, "none")}
        envs = {"pass": env, "import": env, "no-bytecode": bare, "open": env}
        if args.compileall:
            folders = [sysconfig.get_paths()["purelib"], *(p for p in sys.path if p.endswith("/src"))]
            subprocess.run([sys.executable, "-m", "compileall", "-q", "-j0", *folders], env=env)
            how = f"compileall of {', '.join(folders)}"
        else:
            how = "a warm-up run of each case"
        for name, code in CASES.items():  # warm-up: writes the bytecode, creates the ledger, fills the OS cache
            wall(code, envs[name])
        print(f"bytecode: compiled into a scratch PYTHONPYCACHEPREFIX by {how} (case `no-bytecode`: none)")
        print(f"{args.runs} rounds of fresh `{sys.executable} -c ...`, cases interleaved in rotating order", flush=True)
        times = {name: [] for name in CASES}
        names = list(CASES)
        for round_ in range(args.runs):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                times[name].append(wall(CASES[name], envs[name]))
        medians = {name: statistics.median(s for s, _ in rows) * 1e3 for name, rows in times.items()}
        cpu = {name: statistics.median(c for _, c in rows) * 1e3 for name, rows in times.items()}
        rows = importtime(env, CASES["import"]) if args.top else []
        loaded = set(
            subprocess.run(
                [sys.executable, "-c", LOADED.format(code=OPEN)], env=env, check=True, capture_output=True, text=True
            ).stdout.split()
        )
        bare_loaded = set(
            subprocess.run(
                [sys.executable, "-c", LOADED.format(code="pass")], env=env, check=True, capture_output=True, text=True
            ).stdout.split()
        )
    print("  case         median wall ms (over pass)   median CPU ms (over pass)")
    for name, code in CASES.items():
        print(
            f"  {name:12s} {medians[name]:8.1f} ({medians[name] - medians['pass']:+7.1f})       "
            f"{cpu[name]:8.1f} ({cpu[name] - cpu['pass']:+7.1f})     {code}"
        )
    if rows:
        print(f"\n-X importtime of `import flowledger` (compiled, median of 3): top {args.top} cumulative ms | own ms")
        by_total = sorted(rows, key=lambda r: -r[1])[: args.top]
        by_own = sorted(rows, key=lambda r: -r[0])[: args.top]
        for (_, total, depth, module), (own, _, _, slow) in zip(by_total, by_own):
            print(f"  {total / 1e3:7.1f}  {'  ' * depth + module:<44} | {own / 1e3:6.1f}  {slow}")
    packages = sorted(loaded - bare_loaded - set(sys.stdlib_module_names) - {"_distutils_hack"})
    heavy = sorted(set(packages) & set(FORBIDDEN))
    print(f"\nnon-stdlib packages loaded by import + ledger open: {' '.join(packages)}")
    print(f"forbidden modules loaded: {', '.join(heavy) or 'none'} (checked: {', '.join(FORBIDDEN)})")
    over = medians["import"] - medians["pass"]
    print(
        f"core_import: import flowledger (bytecode compiled) +{over:.0f} ms over `python -c pass` "
        f"(median of {args.runs}; target <= 100 ms: {'ok' if over <= 100 else 'OVER'}; CPU "
        f"+{cpu['import'] - cpu['pass']:.0f} ms), "
        f"no bytecode +{medians['no-bytecode'] - medians['pass']:.0f} ms, "
        f"+ledger open +{medians['open'] - medians['pass']:.0f} ms, heavy modules: {', '.join(heavy) or 'none'}"
    )
    if heavy:
        sys.exit(1)


if __name__ == "__main__":
    main()
