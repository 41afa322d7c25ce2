"""What recording one job costs: `Recorder.record_job` and `BackgroundRecorder.record_job`.

A job has two inputs and one fresh small output (written before the clock starts, so hashing it is
part of the cost). The baseline, measured in the same run on the same disk, is the least a durable
ledger must do for such a job: hash the output and write one run row, two input links and one
artifact row with plain `sqlite3` in one WAL transaction.

    uv run python bench/core_record.py                 # 1,000 jobs
    uv run python bench/core_record.py --jobs 200      # quick
    uv run python bench/core_record.py --profile       # and where the time goes (cProfile)
"""

import argparse
import cProfile
import hashlib
import pstats
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from flowledger.background import BackgroundRecorder
from flowledger.recorder import Recorder, TransformSpec

SPEC = TransformSpec(name="rule trim", type="rule", source_code="cut -c1-10 {input} > {output}")


def make_inputs(folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    inputs = [folder / "reads_1.fastq", folder / "reads_2.fastq"]
    for number, path in enumerate(inputs):
        path.write_text(f"@read{number}\nACGT\n+\nIIII\n")
    return inputs


def write_output(folder: Path, index: int) -> Path:
    path = folder / f"trimmed_{index}.txt"
    path.write_text(f"job {index}\n")
    return path


def quantiles(seconds: list[float]) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds."""
    ordered = sorted(seconds)
    return statistics.median(ordered) * 1e3, ordered[int(0.95 * (len(ordered) - 1))] * 1e3


def bench_recorder(folder: Path, jobs: int) -> list[float]:
    inputs = make_inputs(folder / "data")
    recorder = Recorder(folder / "ledger.db")
    workflow = recorder.start_run(TransformSpec(name="workflow"), reference="bench", reference_type="bench")
    recorder.record_job(SPEC, inputs=inputs, outputs=[write_output(folder, -1)], initiated_by=workflow)  # warm
    times = []
    for index in range(jobs):
        output = write_output(folder, index)
        start = time.perf_counter()
        recorder.record_job(SPEC, inputs=inputs, outputs=[output], initiated_by=workflow)
        times.append(time.perf_counter() - start)
    recorder.close()
    return times


def bench_background(folder: Path, jobs: int) -> tuple[list[float], float]:
    inputs = make_inputs(folder / "data")
    outputs = [write_output(folder, index) for index in range(jobs)]
    recorder = BackgroundRecorder(folder / "ledger.db")
    workflow = recorder.start_run(TransformSpec(name="workflow"))
    recorder.flush()
    times = []
    start_all = time.perf_counter()
    for output in outputs:
        start = time.perf_counter()
        recorder.record_job(SPEC, inputs=inputs, outputs=[output], initiated_by=workflow)
        times.append(time.perf_counter() - start)
    recorder.close()
    total = time.perf_counter() - start_all
    if recorder.failures:
        raise SystemExit(f"BackgroundRecorder lost {recorder.failures} records")
    return times, total


def bench_baseline(folder: Path, jobs: int) -> list[float]:
    """Plain sqlite3, WAL + synchronous=NORMAL: hash the output, insert 1 run, 2 input links, 1 artifact."""
    inputs = make_inputs(folder / "data")
    conn = sqlite3.connect(folder / "baseline.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, uid TEXT UNIQUE, transform_id INT, started_at TEXT, "
                 "finished_at TEXT, status TEXT, parent INT)")
    conn.execute("CREATE TABLE artifacts (id INTEGER PRIMARY KEY, uid TEXT UNIQUE, path TEXT, hash TEXT, size INT, "
                 "run_id INT)")
    conn.execute("CREATE INDEX artifacts_path ON artifacts(path)")
    conn.execute("CREATE TABLE run_inputs (run_id INT, artifact_id INT, PRIMARY KEY (run_id, artifact_id)) "
                 "WITHOUT ROWID")
    conn.executemany("INSERT INTO artifacts (uid, path, hash, size) VALUES (?, ?, ?, ?)",
                     [(f"in{i}", str(p), "x", 1) for i, p in enumerate(inputs)])
    times = []
    for index in range(jobs):
        output = write_output(folder, index)
        start = time.perf_counter()
        digest = hashlib.sha256(output.read_bytes()).hexdigest()
        conn.execute("BEGIN IMMEDIATE")
        run_id = conn.execute("INSERT INTO runs (uid, transform_id, started_at, finished_at, status, parent) "
                              "VALUES (?, 1, ?, ?, 'completed', 1)", (f"r{index}", "t", "t")).lastrowid
        conn.executemany("INSERT INTO run_inputs VALUES (?, ?)", [(run_id, 1), (run_id, 2)])
        conn.execute("INSERT INTO artifacts (uid, path, hash, size, run_id) VALUES (?, ?, ?, ?, ?)",
                     (f"a{index}", str(output), digest, output.stat().st_size, run_id))
        conn.execute("COMMIT")
        times.append(time.perf_counter() - start)
    conn.close()
    return times


def profile_recorder(folder: Path, jobs: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    bench_recorder(folder, jobs)
    profiler.disable()
    print(f"\ncProfile of {jobs} record_job calls (setup included), by own time:")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs per measurement (default 1000)")
    parser.add_argument("--profile", action="store_true", help="also profile record_job with cProfile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowledger-bench-") as scratch:
        root = Path(scratch)
        base_median, base_p95 = quantiles(bench_baseline(root / "baseline", args.jobs))
        sync_times = sorted(bench_recorder(root / "sync", args.jobs))
        sync_median, sync_p95 = quantiles(sync_times)
        call_times, total = bench_background(root / "background", args.jobs)
        call_median, call_p95 = quantiles(call_times)
        print(f"baseline (sqlite3, same writes)      median {base_median:.3f} ms   p95 {base_p95:.3f} ms")
        print(f"Recorder.record_job                  median {sync_median:.3f} ms   p95 {sync_p95:.3f} ms   "
              f"({sync_median / base_median:.1f}x baseline)   p99 {sync_times[int(0.99 * (args.jobs - 1))] * 1e3:.3f} ms"
              f"   max {sync_times[-1] * 1e3:.1f} ms")
        print(f"BackgroundRecorder.record_job (call) median {call_median:.4f} ms  p95 {call_p95:.4f} ms")
        print(f"BackgroundRecorder total incl. close {total * 1e3:.0f} ms = {total / args.jobs * 1e3:.3f} ms/job")
        if args.profile:
            profile_recorder(root / "profile", args.jobs)
    verdict = "well under 1 ms" if sync_median < 0.5 else ("under 1 ms" if sync_median < 1 else "OVER 1 ms")
    print(f"core_record: {args.jobs} jobs, record_job median {sync_median:.3f} ms p95 {sync_p95:.3f} ms "
          f"({sync_median / base_median:.1f}x plain sqlite3), background {call_median * 1e3:.1f} us/call "
          f"{total / args.jobs * 1e3:.3f} ms/job total: {verdict}")


if __name__ == "__main__":
    main()
