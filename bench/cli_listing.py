"""`flowledger runs --all` on a ledger of 12,000 runs: time to the first line, and in total.

The ledger is generated with the `Recorder` in one batch (one transaction): `--workflows` workflow runs,
each with jobs under it (Snakemake rules with wildcards, Nextflow processes with a tag, some errored),
each job reading the previous job's output and writing a small file of its own, 12,000 runs in all.
Then, in fresh processes with the output piped (as a script or `| less` reads it), interleaved round
by round so that machine noise hits every case alike:

  baselines    `python -c pass`, and `flowledger --version`: starting the command, nothing listed
  runs --all   `flowledger runs --all --limit 0`: time to the first run row, and to the end
  | head -1    `flowledger runs --all --limit 0 | head -1` in a shell: the whole pipeline's time
  (and `runs` with the default limit of 50, for reference)

Medians of `--repeat` rounds, wall clock and CPU time (user + system, less sensitive to a busy machine);
the summary line gives the absolute times and the listing's own cost over `flowledger --version`.

    uv run python bench/cli_listing.py                   # 12,000 runs, 7 rounds
    uv run python bench/cli_listing.py --runs 2000 --repeat 3
    uv run python bench/cli_listing.py --db /tmp/runs.db  # keep the ledger (reused if it is there)
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RULES = ("trim", "align", "sort", "call", "annotate")


def build(db: Path, runs: int, workflows: int) -> None:
    """Fill a new ledger with `runs` runs: `workflows` workflow runs and their jobs, in one transaction."""
    from flowledger.plugin_api import Recorder, TransformSpec

    files = db.parent / "files"
    files.mkdir(parents=True, exist_ok=True)
    recorder = Recorder(db)
    jobs_per_workflow = runs // workflows - 1
    made = 0
    with recorder.batch():
        for w in range(workflows):
            nextflow = w % 3 == 2
            manager = "nextflow_id" if nextflow else "snakemake_id"
            workflow = recorder.start_run(
                TransformSpec(name="rnaseq" if nextflow else "variants", version="1.0"),
                reference=f"run-{w}",
                reference_type=manager,
                started_at=1_700_000_000 + w * 3600,
            )
            made += 1
            previous = None
            for j in range(jobs_per_workflow):
                if made >= runs - (workflows - w - 1):
                    break
                rule = RULES[j % len(RULES)]
                sample = f"S{j // len(RULES)}"
                output = files / f"w{w}-j{j}.txt"
                output.write_text(f"{w} {j}\n")
                errored = j == jobs_per_workflow - 1 and w % 7 == 0
                start = 1_700_000_000 + w * 3600 + j
                json = (
                    {"tag": sample, "process": rule.upper()}
                    if nextflow
                    else {"rule": rule, "wildcards": {"sample": sample}}
                )
                recorder.record_job(
                    TransformSpec(
                        name=rule.upper() if nextflow else rule,
                        type="process" if nextflow else "rule",
                        source_code=f"{rule} {{input}} > {{output}}",
                    ),
                    inputs=[previous] if previous else [],
                    outputs=[output],
                    initiated_by=workflow,
                    status="errored" if errored else "completed",
                    error=f"{rule} failed: exit status 1\nTraceback ..." if errored else None,
                    started_at=start,
                    finished_at=start + 0.5 + (j % 13),
                    json=json,
                )
                previous = output
                made += 1
            recorder.finish_run(workflow, status="completed", finished_at=1_700_000_000 + w * 3600 + 3000)
    recorder.ledger.close()


def first_line_and_total(command: list[str], env: dict) -> tuple[float, float, float, int]:
    """Seconds to the first line on the pipe and to the end, the child's CPU seconds, and its lines."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert process.stdout is not None
    first = None
    lines = 0
    for _ in process.stdout:
        if first is None:
            first = time.perf_counter() - start
        lines += 1
    process.wait()
    total = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed with exit status {process.returncode}")
    return (first if first is not None else total), total, _cpu(before), lines


def shell_time(command: str, env: dict) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, shell=True, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, _cpu(before)


def _cpu(before) -> float:
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=12_000, help="runs in the ledger (default 12,000)")
    parser.add_argument("--workflows", type=int, default=60, help="workflow runs among them (default 60)")
    parser.add_argument("--repeat", type=int, default=7, help="rounds (default 7)")
    parser.add_argument("--db", type=Path, help="keep the ledger here (reused if it exists)")
    args = parser.parse_args()

    scratch = tempfile.TemporaryDirectory(prefix="flowledger-bench-")
    db = args.db or Path(scratch.name) / "ledger.db"
    if not db.exists():
        started = time.perf_counter()
        build(db, args.runs, args.workflows)
        print(f"built {db} with {args.runs:,} runs in {time.perf_counter() - started:.1f} s")
    env = {**os.environ, "FLOWLEDGER_DB": str(db)}
    flowledger = str(Path(sys.executable).with_name("flowledger"))
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "flowledger --version (baseline)": [flowledger, "--version"],
        "runs (limit 50)": [flowledger, "runs"],
        "runs --all --limit 0": [flowledger, "runs", "--all", "--limit", "0"],
    }
    head = "runs --all --limit 0 | head -1"
    times: dict[str, dict[str, list[float]]] = {name: {"first": [], "total": [], "cpu": []} for name in cases}
    times[head] = {"first": [], "total": [], "cpu": []}
    lines = {}
    for _ in range(args.repeat):
        for name, command in cases.items():
            first, total, cpu, lines[name] = first_line_and_total(command, env)
            for key, value in (("first", first), ("total", total), ("cpu", cpu)):
                times[name][key].append(value)
        total, cpu = shell_time(f"{flowledger} runs --all --limit 0 | head -1", env)
        times[head]["total"].append(total)
        times[head]["cpu"].append(cpu)

    def median(name: str, key: str) -> float:
        return statistics.median(times[name][key]) if times[name][key] else float("nan")

    print(f"\nmedians of {args.repeat} rounds, output piped; {args.runs:,} runs in the ledger")
    print(f"{'case':34} {'first line':>11} {'total':>8} {'CPU':>7} {'lines':>7}")
    for name in times:
        first = f"{median(name, 'first'):10.3f}s" if times[name]["first"] else " " * 11
        print(f"{name:34} {first} {median(name, 'total'):7.3f}s {median(name, 'cpu'):6.3f}s {lines.get(name, ''):>7}")
    base = median("flowledger --version (baseline)", "total")
    name = "runs --all --limit 0"
    first, total = median(name, "first"), median(name, "total")
    print(
        f"\nsummary: runs --all on {args.runs:,} runs: first line {first:.2f} s, total {total:.2f} s, "
        f"| head -1 {median(head, 'total'):.2f} s; `flowledger --version` {base:.2f} s "
        f"(the listing itself: first line +{first - base:.2f} s, total +{total - base:.2f} s; "
        f"CPU {median(name, 'cpu'):.2f} s against {median('flowledger --version (baseline)', 'cpu'):.2f} s)"
    )


if __name__ == "__main__":
    main()
