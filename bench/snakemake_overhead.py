"""Overhead of `snakemake --logger flowledger` against plain Snakemake (target: median wall-time ratio <= 1.05).

Cases (select with flags; each runs its configurations interleaved, in rotating order, so that machine
noise hits all of them alike; a fresh directory and ledger per run, Snakemake 9, `--scheduler greedy
--cores 2`):

    tiny    (default; --no-tiny skips it) N `touch` jobs plus one `cat` aggregate: the per-job cost.
            snakemake-logger-plugin-snkmt (a commit per event) is measured too, as a reference point, from
            a throwaway venv with the same Snakemake version, when it installs (`--no-snkmt` skips it)
    large   (--large) 6 jobs each writing 1 GiB (`head -c 1G /dev/urandom`, so the jobs use the cores
            as real ones do) that flowledger hashes: hashing competes with the jobs for the cores.
            Needs 6 GiB free in the temp folder; each run's files are deleted when it ends

Each run reports wall time and CPU time (user + sys of Snakemake and everything it waited for,
from getrusage(RUSAGE_CHILDREN)); each case ends with the medians and their ratios to plain Snakemake.

    uv run python bench/snakemake_overhead.py                    # tiny: 1,000 jobs, 5 repeats, with snkmt
    uv run python bench/snakemake_overhead.py --jobs 200 --repeats 3 --no-snkmt          # quick
    uv run python bench/snakemake_overhead.py --no-tiny --large --repeats 3              # large only (minutes)
    uv run python bench/snakemake_overhead.py --no-tiny --large --large-size 100M --repeats 1   # try it out
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SNAKEFILE = """
N = int(config["njobs"])

rule all:
    input: "agg.txt"

rule agg:
    input: expand("out/{i}.txt", i=range(N))
    output: "agg.txt"
    shell: "cat {input} > {output}"

rule touch:
    output: "out/{i}.txt"
    shell: "touch {output}"
"""

LARGE_SNAKEFILE = """
rule all:
    input: expand("big/{i}.bin", i=range(int(config["njobs"])))

rule big:
    output: "big/{i}.bin"
    params: size=config["size"]
    shell: "head -c {params.size} /dev/urandom > {output}"
"""


def snakemake_version(executable: Path) -> str:
    done = subprocess.run([str(executable), "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def snkmt_snakemake(version: str, where: Path) -> Path | None:
    """Snakemake + snkmt in a throwaway venv; None (with a note) when it does not install."""
    venv = where / "snkmt-venv"
    python = venv / "bin" / "python"
    steps = [
        [sys.executable, "-m", "uv", "venv", str(venv), "--python", sys.executable],
        [
            sys.executable,
            "-m",
            "uv",
            "pip",
            "install",
            "--python",
            str(python),
            f"snakemake=={version}",
            "snakemake-logger-plugin-snkmt",
        ],
    ]
    if shutil.which("uv"):
        steps = [["uv", *step[3:]] for step in steps]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"snkmt reference skipped: `{' '.join(step)}` failed:\n{done.stderr[-2000:]}", file=sys.stderr)
            return None
    return venv / "bin" / "snakemake"


def run_once(
    executable: Path, logger: list[str], snakefile: str, config: list[str], cores: int, root: Path, tag: str
) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=root))
    (folder / "Snakefile").write_text(snakefile)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE_LOGGER_")}
    env["FLOWLEDGER_DB"] = str(folder / "ledger.db")
    env["HOME"] = str(folder)  # snkmt keeps its database under the home folder
    cmd = [str(executable), "--cores", str(cores), "--scheduler", "greedy", "--config", *config, *logger]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{tag} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "warnings": done.stderr.count("WARNING: flowledger"),
    }
    ledger = folder / "ledger.db"
    if tag == "flowledger":
        with sqlite3.connect(ledger) as conn:
            result["runs"] = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    shutil.rmtree(folder, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--tiny", action=argparse.BooleanOptionalAction, default=True, help="measure the tiny-jobs case (default: yes)"
    )
    parser.add_argument("--large", action="store_true", help="measure the large-outputs case")
    parser.add_argument("--jobs", type=int, default=1000, help="number of tiny jobs (default 1000)")
    parser.add_argument("--large-jobs", type=int, default=6, help="number of large jobs (default 6)")
    parser.add_argument("--large-size", default="1G", help="what each large job writes, as `head -c` takes it")
    parser.add_argument("--repeats", type=int, default=5, help="runs per configuration and case (default 5)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument(
        "--snkmt",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure snakemake-logger-plugin-snkmt, when it installs (default: yes)",
    )
    parser.add_argument(
        "--snakemake",
        default=str(Path(sys.executable).with_name("snakemake")),
        help="the Snakemake 9 executable that has the flowledger plugin",
    )
    args = parser.parse_args()

    executable = Path(args.snakemake)
    version = snakemake_version(executable)
    root = Path(tempfile.mkdtemp(prefix="flowledger-bench-"))
    plain = {"baseline": (executable, []), "flowledger": (executable, ["--logger", "flowledger"])}
    cases = {}
    try:
        if args.tiny:
            configs = dict(plain)
            if args.snkmt:
                other = snkmt_snakemake(version, root)
                if other is not None:
                    configs["snkmt"] = (other, ["--logger", "snkmt"])
            cases["tiny"] = (
                f"{args.jobs} touch jobs + 1 aggregate",
                SNAKEFILE,
                [f"njobs={args.jobs}"],
                args.jobs + 3,
                configs,
            )  # runs: N jobs, agg, all, and the workflow run
        if args.large:
            cases["large"] = (
                f"{args.large_jobs} jobs each writing `head -c {args.large_size} /dev/urandom`",
                LARGE_SNAKEFILE,
                [f"njobs={args.large_jobs}", f"size={args.large_size}"],
                args.large_jobs + 2,
                plain,
            )
        summary = [run_case(name, case, executable, version, args, root) for name, case in cases.items()]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    for line in summary:
        print(line)


def run_case(name: str, case: tuple, executable: Path, version: str, args, root: Path) -> str:
    """The configurations of one case, interleaved; the medians, the checks and a summary line."""
    title, snakefile, config, expected, configs = case
    print(
        f"\n[{name}] Snakemake {version}: {title}, --cores {args.cores} --scheduler greedy, "
        f"{args.repeats} interleaved repeats of {', '.join(configs)}",
        flush=True,
    )
    results: dict[str, list[dict]] = {config_name: [] for config_name in configs}
    names = list(configs)
    for repeat in range(args.repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]  # rotate who goes first
        for config_name in order:
            executable_, logger = configs[config_name]
            result = run_once(executable_, logger, snakefile, config, args.cores, root, config_name)
            results[config_name].append(result)
            extra = f", {result['runs']} runs recorded" if "runs" in result else ""
            print(
                f"  [{repeat + 1}/{args.repeats}] {config_name:10s} wall {result['wall']:6.1f} s  "
                f"cpu {result['cpu']:6.1f} s{extra}",
                flush=True,
            )

    base_wall = statistics.median(r["wall"] for r in results["baseline"])
    base_cpu = statistics.median(r["cpu"] for r in results["baseline"])
    print("  config       median wall s  median cpu s  wall ratio  cpu ratio")
    for config_name, runs in results.items():
        wall = statistics.median(r["wall"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        print(f"  {config_name:12s} {wall:13.1f} {cpu:13.1f} {wall / base_wall:11.3f} {cpu / base_cpu:10.3f}")
    flow = results["flowledger"]
    if any(r.get("runs") != expected for r in flow):
        print(f"  WARNING: expected {expected} runs in each ledger, got {[r.get('runs') for r in flow]}")
    if any(r["warnings"] for r in flow):
        print(f"  WARNING: flowledger warned in {sum(1 for r in flow if r['warnings'])} of {len(flow)} runs")
    ratio = statistics.median(r["wall"] for r in flow) / base_wall
    paired = statistics.median(f["wall"] / b["wall"] for f, b in zip(flow, results["baseline"]))
    print(f"  flowledger / baseline within each repeat (run next to each other): median wall ratio {paired:.3f}")
    cpu_extra = statistics.median(r["cpu"] for r in flow) - base_cpu
    return (
        f"snakemake_overhead [{name}]: median wall-time ratio flowledger / baseline {ratio:.3f} "
        f"(target <= 1.05: {'ok' if ratio <= 1.05 else 'OVER'}; per repeat {paired:.3f}), "
        f"CPU +{cpu_extra:.1f} s ({cpu_extra / base_cpu * 100:+.0f}%), {args.repeats} repeats"
    )


if __name__ == "__main__":
    main()
