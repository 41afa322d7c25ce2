"""What recording one job costs: plain sqlite3, `Recorder.record_job`, and the public API.

A job has two inputs (the same two small files every job, so after the first job their hashes come
from the stat cache) and one output: a new small file with new content every job, written before
the clock starts and hashed inside the timed call. Four cases, interleaved job by job in rotating
order, each with its own ledger in one scratch folder on the same disk:

    sqlite3   baseline: hash the output and write 1 run, 2 input links, 1 artifact with plain sqlite3
              (WAL, synchronous=NORMAL) in one transaction: the least a durable ledger must do
    recorder  Recorder.record_job(spec, inputs=[a, b], outputs=[out], initiated_by=workflow): a finished job
    api       the same finished job through the three calls the issue lists:
              run = fl.Run(transform, ..., initiated_by_run=workflow, status="completed").save()
              run.inputs.add(a, b); run.outputs.add(out)
    api-live  as a job records itself while it runs: the run saved when it starts and again when it ends
              run = fl.Run(transform, ...).save(); run.inputs.add(a, b); run.outputs.add(out)
              run.status = "completed"; run.save()

Output: median and p95 per case (and per API call), the ratios to sqlite3 and api/recorder (target:
api <= 1.5x recorder; api-live is reported beside it); the transactions and SQL statements per job and
per API call (target: at most one transaction per call; counted in a separate pass with sqlite3's trace
callback); then
`BackgroundRecorder.record_job` (separately, not interleaved: its writer thread runs behind the calls).

    uv run python bench/core_record.py                      # 1,000 jobs per case
    uv run python bench/core_record.py --jobs 200           # quick
    uv run python bench/core_record.py --profile api        # and where the time goes (cProfile)
"""

import argparse
import cProfile
import hashlib
import os
import pstats
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import flowledger as fl

try:
    from flowledger.plugin_api import BackgroundRecorder, Recorder, TransformSpec
except ImportError:
    from flowledger.background import BackgroundRecorder
    from flowledger.recorder import Recorder, TransformSpec

SPEC = TransformSpec(name="rule trim", type="rule", source_code="cut -c1-10 {input} > {output}")


def make_inputs(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    inputs = [folder / "reads_1.fastq", folder / "reads_2.fastq"]
    for number, path in enumerate(inputs):
        path.write_text(f"@read{number}\nACGT\n+\nIIII\n")
    return inputs


def baseline_case(folder: Path, inputs: list[Path]):
    """Plain sqlite3: hash the output, insert 1 run, 2 input links, 1 artifact, one transaction."""
    conn = sqlite3.connect(folder / "baseline.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE runs (id INTEGER PRIMARY KEY, uid TEXT UNIQUE, transform_id INT, started_at TEXT, "
        "finished_at TEXT, status TEXT, parent INT)"
    )
    conn.execute(
        "CREATE TABLE artifacts (id INTEGER PRIMARY KEY, uid TEXT UNIQUE, path TEXT, hash TEXT, size INT, run_id INT)"
    )
    conn.execute("CREATE INDEX artifacts_path ON artifacts(path)")
    conn.execute(
        "CREATE TABLE run_inputs (run_id INT, artifact_id INT, PRIMARY KEY (run_id, artifact_id)) WITHOUT ROWID"
    )
    conn.executemany(
        "INSERT INTO artifacts (uid, path, hash, size) VALUES (?, ?, ?, ?)",
        [(f"in{i}", str(p), "x", 1) for i, p in enumerate(inputs)],
    )

    def job(index: int, output: Path) -> None:
        digest = hashlib.sha256(output.read_bytes()).hexdigest()
        conn.execute("BEGIN IMMEDIATE")
        run_id = conn.execute(
            "INSERT INTO runs (uid, transform_id, started_at, finished_at, status, parent) "
            "VALUES (?, 1, ?, ?, 'completed', 1)",
            (f"r{index}", "t", "t"),
        ).lastrowid
        conn.executemany("INSERT INTO run_inputs VALUES (?, ?)", [(run_id, 1), (run_id, 2)])
        conn.execute(
            "INSERT INTO artifacts (uid, path, hash, size, run_id) VALUES (?, ?, ?, ?, ?)",
            (f"a{index}", str(output), digest, output.stat().st_size, run_id),
        )
        conn.execute("COMMIT")

    return job, conn


def recording_job(db, inputs: list[Path], reference: str = "bench"):
    """One job through `Recorder.record_job` (a workflow run started first), and the recorder: also the
    case bench/postgres_record.py times on each store."""
    recorder = Recorder(db=db)
    workflow = recorder.start_run(TransformSpec(name="workflow"), reference=reference, reference_type="bench")

    def job(index: int, output: Path) -> None:
        recorder.record_job(
            SPEC,
            inputs=inputs,
            outputs=[output],
            initiated_by=workflow,
            reference=f"job {index}",
            reference_type="bench",
        )

    return job, recorder


def recorder_case(folder: Path, inputs: list[Path]):
    job, recorder = recording_job(folder / "ledger.db", inputs)
    return job, recorder.ledger.conn


def api_case(folder: Path, inputs: list[Path], mark=None, live: bool = False):
    """The public API on the default ledger (FLOWLEDGER_DB); `mark(call)` is told when each call is done.

    As the issue lists it (`live=False`): the finished job's run, its inputs, its outputs: three calls, as
    `record_job` records a finished job. `live=True`: the run saved when the job starts and saved again
    when it ends (four calls), as a script that records itself as it goes does.
    """
    os.environ["FLOWLEDGER_DB"] = str(folder / "ledger.db")
    workflow = fl.Run(fl.Transform(name="workflow").save(), reference="bench", reference_type="bench").save()
    transform = fl.Transform(name=SPEC.name, type=SPEC.type, source_code=SPEC.source_code).save()
    prefix = "live: " if live else ""

    def job(index: int, output: Path) -> None:
        os.environ["FLOWLEDGER_DB"] = str(folder / "ledger.db")  # (each API case has its own default ledger)
        mark and mark(None)
        status = "started" if live else "completed"
        run = fl.Run(
            transform, reference=f"job {index}", reference_type="bench", initiated_by_run=workflow, status=status
        ).save()
        mark and mark(f"{prefix}Run(..., status={status!r}).save()")
        run.inputs.add(*inputs)
        mark and mark(f"{prefix}run.inputs.add(a, b)")
        run.outputs.add(output)
        mark and mark(f"{prefix}run.outputs.add(out)")
        if live:
            run.status = "completed"
            run.save()
            mark and mark(f"{prefix}run.status = 'completed'; run.save()")

    return job, getattr(getattr(workflow, "_store", None), "conn", None)  # private: for counting only


def api_live_case(folder: Path, inputs: list[Path], mark=None):
    return api_case(folder, inputs, mark, live=True)


CASES = {"sqlite3": baseline_case, "recorder": recorder_case, "api": api_case, "api-live": api_live_case}
API_CASES = ("api", "api-live")


def write_output(folder: Path, index: int) -> Path:
    path = folder / f"trimmed_{index}.txt"
    path.write_text(f"{folder.name} job {index}\n")
    return path


def interleaved(root: Path, jobs: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Seconds per job for each case, and per call of the API case."""
    inputs = make_inputs(root / "data")
    calls: dict[str, list[float]] = {}
    last = [0.0]

    def mark(call):
        now = time.perf_counter()
        if call:
            calls.setdefault(call, []).append(now - last[0])
        last[0] = now

    cases = {}
    for name, make in CASES.items():
        (root / name).mkdir()
        job, _ = make(root / name, inputs, mark) if name in API_CASES else make(root / name, inputs)
        job(-1, write_output(root / name, -1))  # warm-up: transform, user, input hashes in the stat cache
        cases[name] = job
    times = {name: [] for name in cases}
    names = list(cases)
    for index in range(jobs):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            output = write_output(root / name, index)
            start = time.perf_counter()
            cases[name](index, output)
            times[name].append(time.perf_counter() - start)
    for name in ("recorder", *API_CASES):  # all recorded the same jobs: completed, 2 inputs, 1 output each
        with sqlite3.connect(root / name / "ledger.db") as conn:
            same = conn.execute(
                "SELECT count(*) FROM runs r WHERE reference LIKE 'job %' AND status = 'completed' AND finished_at "
                "IS NOT NULL AND (SELECT count(*) FROM run_inputs WHERE run_id = r.id) = 2 AND "
                "(SELECT count(*) FROM artifacts WHERE run_id = r.id) = 1"
            ).fetchone()[0]
        if same != jobs + 1:
            print(f"WARNING: {name} recorded {same} complete jobs, expected {jobs + 1}")
    return times, {call: found[1:] for call, found in calls.items()}  # without the warm-up job


def traced(root: Path, jobs: int = 5) -> dict[str, tuple[float, float | None]]:
    """Transactions (BEGIN) and SQL statements per job, and the most transactions any one API call took."""
    inputs = make_inputs(root / "data")
    counts = {}
    for name in CASES:
        (root / name).mkdir()
        counts.update(traced_case(name, root / name, inputs, jobs))
    return counts


def traced_case(name: str, folder: Path, inputs: list[Path], jobs: int) -> dict[str, tuple[float, float | None]]:
    tally = {"begin": 0, "sql": 0, "last": 0}
    per_call: dict[str, list[int]] = {}

    def mark(call):
        if call:
            per_call.setdefault(call, []).append(tally["begin"] - tally["last"])
        tally["last"] = tally["begin"]

    def trace(sql: str) -> None:
        tally["sql"] += 1
        tally["begin"] += sql.startswith("BEGIN")

    job, conn = CASES[name](folder, inputs, mark) if name in API_CASES else CASES[name](folder, inputs)
    if conn is None:
        return {}
    job(-1, write_output(folder, -1))
    per_call.clear()
    conn.set_trace_callback(trace)
    for index in range(jobs):
        job(index, write_output(folder, index))
    conn.set_trace_callback(None)
    return {
        name: (tally["begin"] / jobs, tally["sql"] / jobs),
        **{f"  {call}": (max(found), None) for call, found in per_call.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000, help="jobs per case (default 1000)")
    parser.add_argument("--profile", choices=["recorder", *API_CASES], help="also profile that case with cProfile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowledger-bench-") as scratch:
        root = Path(scratch)
        print(
            f"{args.jobs} jobs per case, interleaved job by job; inputs: the same 2 files (stat cache), "
            "output: a new small file per job (hashed)",
            flush=True,
        )
        times, calls = interleaved(root / "timed", args.jobs)
        stats = {}
        for name, seconds in times.items():
            ordered = sorted(seconds)
            stats[name] = (statistics.median(ordered) * 1e3, ordered[int(0.95 * (len(ordered) - 1))] * 1e3)
            print(
                f"  {name:9s} median {stats[name][0]:6.3f} ms   p95 {stats[name][1]:6.3f} ms   "
                f"({stats[name][0] / stats['sqlite3'][0]:.1f}x sqlite3)"
            )
        for call, seconds in calls.items():
            print(f"    {call:38s} median {statistics.median(seconds) * 1e3:6.3f} ms")
        counts = traced(root / "traced")
        print("transactions per job (BEGIN) | SQL statements per job:")
        for name, (begins, statements) in counts.items():
            print(
                f"  {name:40s} {begins:4.1f}"
                + (f" | {statements:5.1f}" if statements is not None else "   (the most in one call)")
            )
        background = BackgroundRecorder(root / "background.db")
        inputs = make_inputs(root / "background")
        outputs = [write_output(root / "background", index) for index in range(args.jobs)]
        workflow = background.start_run(TransformSpec(name="workflow"))
        background.flush()
        calls = []
        start_all = time.perf_counter()
        for output in outputs:
            start = time.perf_counter()
            background.record_job(SPEC, inputs=inputs, outputs=[output], initiated_by=workflow)
            calls.append(time.perf_counter() - start)
        background.close()
        total = (time.perf_counter() - start_all) / args.jobs * 1e3
        print(
            f"  BackgroundRecorder.record_job: {statistics.median(calls) * 1e6:.1f} us per call on the caller's "
            f"thread, {total:.3f} ms per job in total incl. close (not interleaved)"
            + (f", {background.failures} LOST" if background.failures else "")
        )
        if args.profile:
            folder = root / "profile"
            folder.mkdir()
            job, _ = CASES[args.profile](folder, make_inputs(folder / "data"))
            outputs = [write_output(folder, index) for index in range(args.jobs)]
            profiler = cProfile.Profile()
            profiler.runcall(lambda: [job(index, output) for index, output in enumerate(outputs)])
            print(f"\ncProfile of {args.jobs} {args.profile} jobs, by own time:")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
    ratio = stats["api"][0] / stats["recorder"][0]
    live = stats["api-live"][0] / stats["recorder"][0]
    print(
        f"core_record: {args.jobs} jobs, record_job median {stats['recorder'][0]:.3f} ms "
        f"({stats['recorder'][0] / stats['sqlite3'][0]:.1f}x plain sqlite3), public API "
        f"{stats['api'][0]:.3f} ms = {ratio:.2f}x record_job (target <= 1.5: {'ok' if ratio <= 1.5 else 'OVER'}; "
        f"{counts.get('api', ('?',))[0]} transactions per job), started and finished as it runs "
        f"{stats['api-live'][0]:.3f} ms = {live:.2f}x ({counts.get('api-live', ('?',))[0]} transactions)"
    )


if __name__ == "__main__":
    main()
