"""Exporting a 10,000-job run: `flowledger export --format openlineage` and `--format prov-json` (target: each
under 10 s), against a baseline of reading the same records (`flowledger.exporting.gather`, what both start with).

The run is recorded once with the synchronous Recorder, in batches: a workflow run and N job runs of one
rule, each reading one shared input and its own small input and writing one output (so 2N + 1 files).
Then, for `--repeats` rounds in rotating order, each case runs in a fresh interpreter (as the command does:
imports included) and writes into a scratch folder:

    read          python -c "gather(uid)"               the baseline: reading the runs, transforms, artifacts
    openlineage   flowledger export UID --format openlineage -o run.jsonl
    prov-json     flowledger export UID --format prov-json -o run.prov.json

Output: seconds per round, the medians, each case's ratio to the baseline, and one summary line.

    uv run python bench/export_large.py                  # 10,000 jobs, 3 rounds
    uv run python bench/export_large.py --jobs 1000 --repeats 2   # quick
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flowledger.plugin_api import Recorder, TransformSpec

TARGET_S = 10.0


def record(folder: Path, db: Path, jobs: int) -> str:
    """A workflow run of `jobs` job runs, recorded in batches of 500; returns the workflow run's uid."""
    shared = folder / "data" / "genome.fa"
    shared.parent.mkdir(parents=True)
    shared.write_text(">chr1\nACGT\n")
    rule = TransformSpec("align", type="rule", source_code="bwa mem {input} > {output}")
    recorder = Recorder(db)
    workflow = recorder.start_run(
        TransformSpec("big-pipeline", source_code="rule align: ..."),
        reference="bench",
        reference_type="snakemake_id",
        json={"snakemake_version": "9.27.1", "host": "bench"},
    )
    for start in range(0, jobs, 500):
        with recorder.batch():
            for n in range(start, min(start + 500, jobs)):
                sample, out = folder / "data" / f"s{n}.fq", folder / "out" / f"s{n}.bam"
                sample.write_text(f"@r{n}\nACGT\n")
                out.parent.mkdir(exist_ok=True)
                out.write_text(f"aligned {n}\n")
                recorder.record_job(
                    rule,
                    inputs=[shared, sample],
                    outputs=[out],
                    initiated_by=workflow,
                    reference=f"bench/{n}",
                    reference_type="snakemake_job",
                )
    recorder.finish_run(workflow)
    recorder.close()
    return workflow


def timed(command: list[str], env: dict) -> float:
    began = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    spent = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="job runs in the workflow run (default 10,000)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the three cases (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowledger-bench-export-") as scratch:
        folder = Path(scratch)
        db = folder / "ledger.db"
        began = time.perf_counter()
        uid = record(folder, db, args.jobs)
        print(
            f"recorded {args.jobs} jobs in {time.perf_counter() - began:.1f} s (ledger {db.stat().st_size >> 20} MiB)"
        )
        env = {**os.environ, "FLOWLEDGER_DB": str(db)}
        env = {k: v for k, v in env.items() if not k.startswith("OPENLINEAGE")}
        cli = str(Path(sys.executable).with_name("flowledger"))
        cases = {
            "read": [sys.executable, "-c", f"from flowledger.exporting import gather; gather({uid!r})"],
            "openlineage": [cli, "export", uid, "--format", "openlineage", "-o", str(folder / "run.jsonl")],
            "prov-json": [cli, "export", uid, "--format", "prov-json", "-o", str(folder / "run.prov.json")],
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        names = list(cases)
        for round_ in range(args.repeats):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                times[name].append(timed(cases[name], env))
            print(f"round {round_ + 1}: " + ", ".join(f"{n} {times[n][-1]:.2f} s" for n in names))
        medians = {name: statistics.median(values) for name, values in times.items()}
        lines = (folder / "run.jsonl").read_text().count("\n")
        size = (folder / "run.prov.json").stat().st_size >> 20
        print(f"openlineage: {lines} events; prov-json: {size} MiB")
        for name in names:
            print(f"{name:12} median {medians[name]:.2f} s  ({medians[name] / medians['read']:.1f}x read)")
        ok = all(medians[n] < TARGET_S for n in ("openlineage", "prov-json"))
        print(
            f"SUMMARY export of {args.jobs} jobs: openlineage {medians['openlineage']:.1f} s, prov-json "
            f"{medians['prov-json']:.1f} s, read {medians['read']:.1f} s (target < {TARGET_S:.0f} s): "
            f"{'ok' if ok else 'OVER'}"
        )


if __name__ == "__main__":
    main()
