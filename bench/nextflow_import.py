"""Benchmark: import a synthetic Nextflow run of 10,000 tasks (the reference formats: history, log,
trace file, work dirs with `.command.run` staging lines and output headers, a published file).

    uv run python bench/nextflow_import.py [--tasks 10000]

Prints the import time (target: under 10 s on 2 cores) and, as the baseline measured in the same run,
the time to only parse the trace file and every work dir (no ledger), with the ratio of the two.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

SESSION = "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"
RUN = "bench_run"

COMMAND_RUN = """#!/bin/bash
### ---
### name: '{name}'
### outputs:
### - '{output}'
### ...
set -e
set -u

nxf_stage() {{
    true
    # stage input files
{rm}
{ln}
}}

nxf_main() {{
    nxf_stage
}}

$NXF_ENTRY
"""


def _hash(i: int) -> str:
    return f"{(i * 2654435761) % (1 << 128):032x}"


def generate(root: Path, n_tasks: int) -> None:
    """A launch dir with one finished run of `n_tasks` tasks: TRIM x k -> COUNT x (k-1) -> MERGE, its trace
    file written with the fields and raw values `flowledger nextflow config` asks Nextflow for."""
    from flowledger_nextflow.trace import TRACE_FIELDS

    samples = n_tasks // 2
    work = root / "work"
    (root / "data").mkdir(parents=True)
    (root / ".nextflow").mkdir()
    (root / "nextflow.config").write_text("manifest {\n    name = 'bench'\n    version = '1.0.0'\n}\n")
    rows, task_id, t0 = [], 0, 1784538842912
    count_outputs = []

    def task(name, process, tag, inputs, output, content):
        nonlocal task_id
        task_id += 1
        h = _hash(task_id)
        wd = work / h[:2] / h[2:]
        wd.mkdir(parents=True, exist_ok=True)
        rm = "\n".join(f"    rm -f {os.path.basename(i)}" for i in inputs)
        ln = "\n".join(f"    ln -s {i} {os.path.basename(i)}" for i in inputs)
        (wd / ".command.run").write_text(COMMAND_RUN.format(name=name, output=output, rm=rm, ln=ln))
        (wd / ".command.sh").write_text(f"#!/bin/bash -ue\n{process.lower()} {' '.join(inputs)} > {output}\n")
        (wd / output).write_text(content)
        (wd / ".exitcode").write_text("0")
        for i in inputs:
            link = wd / os.path.basename(i)
            if not link.is_symlink():
                link.symlink_to(i)
        submit = t0 + task_id * 10
        row = {
            "task_id": task_id,
            "hash": f"{h[:2]}/{h[2:8]}",
            "native_id": 40000 + task_id,
            "process": process,
            "tag": tag,
            "name": name,
            "status": "COMPLETED",
            "exit": 0,
            "attempt": 1,
            "submit": submit,
            "start": submit + 50,
            "complete": submit + 600,
            "duration": 600,
            "realtime": 20,
            "workdir": wd,
            "cpus": 1,
            "%cpu": 85.0,
            "peak_rss": 3355443,
            "peak_vmem": 7759462,
            "rchar": 41881,
            "wchar": 222,
        }
        rows.append(["-" if row.get(f) is None else str(row[f]) for f in TRACE_FIELDS])
        return str(wd / output)

    trimmed = []
    for s in range(samples):
        raw = root / "data" / f"s{s}.fastq"
        raw.write_text(f"@r{s}\nACGT{s}\n+\nIIII\n")
        trimmed.append(task(f"TRIM (s{s})", "TRIM", f"s{s}", [str(raw)], f"s{s}.trimmed.fastq", f"ACGT{s}\n"))
    for s in range(n_tasks - samples - 1):
        count_outputs.append(task(f"COUNT (s{s})", "COUNT", f"s{s}", [trimmed[s]], f"s{s}.count.txt", f"{s}\n"))
    summary = "".join(f"s{s}\t{s}\n" for s in range(len(count_outputs)))
    merged = task("MERGE", "MERGE", None, count_outputs, "summary.tsv", summary)
    (root / "results").mkdir()
    (root / "results" / "summary.tsv").write_text(Path(merged).read_text())
    with open(root / "trace-20260720-33240700.txt", "w") as fh:
        fh.write("\t".join(TRACE_FIELDS) + "\n")
        fh.writelines("\t".join(r) + "\n" for r in rows)
    (root / ".nextflow" / "history").write_text(
        f"2026-07-20 09:14:01\t2m 3s\t{RUN}\tOK\t6dff7986e1e2fc7cb7aadfa506603aad\t{SESSION}\tnextflow run main.nf\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowledger-nf-bench-") as tmp:
        root = Path(tmp) / "launch"
        t = time.perf_counter()
        generate(root, args.tasks)
        print(f"generated {args.tasks} tasks in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        os.environ["FLOWLEDGER_DB"] = str(Path(tmp) / "ledger.db")

        from flowledger.plugin_api import Recorder
        from flowledger_nextflow.importer import import_launch_dir
        from flowledger_nextflow.trace import read_trace
        from flowledger_nextflow.workdir import read_workdir

        t = time.perf_counter()
        tasks = read_trace(root / "trace-20260720-33240700.txt")
        for task in tasks:
            read_workdir(task.workdir)
        parse_s = time.perf_counter() - t

        t = time.perf_counter()
        recorder = Recorder()
        [result] = import_launch_dir(recorder, root, RUN)
        recorder.close()
        import_s = time.perf_counter() - t
        assert result.recorded == args.tasks and result.published == 1, result.summary()
        print(f"parse only (baseline): {parse_s:.2f} s")
        print(
            f"nextflow import of {args.tasks} tasks: {import_s:.2f} s "
            f"({args.tasks / import_s:.0f} tasks/s; {import_s / parse_s:.1f}x the parse-only baseline; "
            f"target < 10 s)"
        )


if __name__ == "__main__":
    main()
