"""Recording on PostgreSQL (over the local Unix socket) against SQLite: one job, and 16 writers at once.

One job (default mode): `Recorder.record_job(spec, inputs=[a, b], outputs=[out], initiated_by=workflow)`:
a run, two input links (the same two small files every job: their hashes come from the stat cache after
the first) and one output (a new small file every job, written before the clock starts and hashed inside
the call). Two cases, interleaved job by job in alternating order, each with its own ledger:

    sqlite      a ledger file in a scratch folder (WAL, synchronous=NORMAL): the baseline
    postgresql  a ledger on a PostgreSQL server, through its Unix socket

Output: median and p95 per job, PG / SQLite (targets: PG median <= 2 ms and <= 3x SQLite), SQL statements
per job (each one a round trip to the server; one `SELECT 1` round trip is timed too).

Writers (`--writers 16 --jobs 1000`): 16 processes, each with its own Recorder, record `--jobs` jobs each
(the two inputs shared by all, one output each); they open the ledger and start their workflow run first,
then all start recording at once. Rounds alternate the stores (PG, SQLite, SQLite, PG, ...), each round on
a new ledger. Throughput: all jobs / (last job done - first job started); lost: jobs not in the ledger
whole (a completed run under its workflow run, 2 inputs, 1 output), expected 0; doubled: extra runs.

The server is a throw-away one from tests/postgres_server.py (initdb in a temporary folder, run as the
`postgres` user when run as root), with fsync = off (the settings are printed first): a commit is written
to the WAL but not synced, as with SQLite's synchronous=NORMAL. `--durable` turns fsync, full_page_writes
and synchronous_commit on, and SQLite's synchronous=FULL. `--url` records into a ledger on a server of your
own instead (all rounds in it; its settings apply).

    uv run python bench/postgres_record.py                          # 1,000 jobs per case
    uv run python bench/postgres_record.py --jobs 200               # quick
    uv run python bench/postgres_record.py --writers 16 --jobs 1000
    uv run python bench/postgres_record.py --writers 16 --jobs 100 --rounds 1   # quick
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from core_record import make_inputs, recording_job, write_output  # (this folder: the same job, timed there)
from flowledger.location import resolve_ledger_path
from flowledger.store import open_ledger

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from postgres_server import start_server

STORES = ("postgresql", "sqlite")

COMPLETE_JOBS_SQL = """
SELECT count(*) AS jobs, count(DISTINCT r.reference) AS distinct_jobs,
  sum(CASE WHEN r.status = 'completed' AND (SELECT count(*) FROM run_inputs WHERE run_id = r.id) = 2
      AND (SELECT count(*) FROM artifacts WHERE run_id = r.id) = 1 THEN 1 ELSE 0 END) AS whole
FROM runs r JOIN runs w ON w.id = r.initiated_by_run_id WHERE w.reference_type = 'bench' AND w.reference LIKE ?
"""


class Ledgers:
    """New ledgers for the cases: a database on our server (or the one at --url), a file in scratch."""

    def __init__(self, scratch: Path, url: str | None, durable: bool):
        self.scratch = scratch
        self.url = url
        self.server = None if url else start_server()
        if not url and self.server is None:
            raise SystemExit("no PostgreSQL server programs (apt-get install postgresql), and no --url given")
        if self.server and durable:
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                self.server.sql(f"ALTER SYSTEM SET {setting} = on")
            self.server.sql("SELECT pg_reload_conf()")
        if durable:
            os.environ["FLOWLEDGER_DURABILITY"] = "full"  # SQLite's synchronous=FULL, here and in the writers
        self.made = 0

    def new(self, store: str) -> str:
        self.made += 1
        if store == "sqlite":
            return str(self.scratch / f"ledger-{self.made}.db")
        return self.url or self.server.url(self.server.new_database())

    def settings(self) -> str:
        import psycopg

        with psycopg.connect(self.url or self.server.url()) as conn:
            shown = [
                f"{name} = {conn.execute(f'SHOW {name}').fetchone()[0]}" for name in ("fsync", "synchronous_commit")
            ]
            version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        return f"PostgreSQL {version} ({', '.join(shown)}){' at --url' if self.url else ''}"

    def round_trip_us(self, repeat: int = 2000) -> float:
        import psycopg

        with psycopg.connect(self.url or self.server.url(), autocommit=True) as conn:
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                conn.execute("SELECT 1").fetchone()
                times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e6

    def close(self) -> None:
        if self.server:
            self.server.stop()
            shutil.rmtree(self.server.folder, ignore_errors=True)


# ---- one job at a time ------------------------------------------------------------------------


def single(ledgers: Ledgers, root: Path, jobs: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Seconds per job for each store, interleaved job by job (the order alternates); statements per job."""
    inputs = make_inputs(root / "data")
    cases, recorders = {}, {}
    for store in STORES:
        (root / store).mkdir()
        cases[store], recorders[store] = recording_job(ledgers.new(store), inputs, reference="bench single")
        cases[store](-1, write_output(root / store, -1))  # warm-up: transform, user, input hashes
    times: dict[str, list[float]] = {store: [] for store in STORES}
    for index in range(jobs):
        for store in STORES if index % 2 == 0 else STORES[::-1]:
            output = write_output(root / store, index)
            start = time.perf_counter()
            cases[store](index, output)
            times[store].append(time.perf_counter() - start)
    statements = {}
    for store, recorder in recorders.items():  # a few more jobs, counting the SQL statements they send
        count = [0]
        recorder.ledger.conn.set_trace_callback(lambda sql, count=count: count.__setitem__(0, count[0] + 1))
        for index in range(jobs, jobs + 10):
            cases[store](index, write_output(root / store, index))
        recorder.ledger.conn.set_trace_callback(None)
        statements[store] = count[0] / 10 + (3 if store == "postgresql" else 0)  # + BEGIN, the lock, COMMIT
        found = recorder.ledger.query(COMPLETE_JOBS_SQL, ("bench single",))[0]
        if found["whole"] != jobs + 11 or found["jobs"] != jobs + 11:
            print(f"WARNING: {store} holds {found['whole']} whole jobs of {found['jobs']}, expected {jobs + 11}")
        recorder.close()
    return times, statements


# ---- many writers at once --------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from flowledger.plugin_api import Recorder, TransformSpec
    db, folder, name, jobs = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    spec = TransformSpec(name="rule trim", type="rule", source_code="cut -c1-10 {input} > {output}")
    recorder = Recorder(db=db)
    workflow = recorder.start_run(TransformSpec(name="workflow"), reference=name, reference_type="bench")
    inputs = [folder / "reads_1.fastq", folder / "reads_2.fastq"]
    outputs = folder / name
    outputs.mkdir()
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.time()
    for index in range(jobs):
        output = outputs / f"out_{index}.txt"
        output.write_text(f"{name} job {index}\\n")
        recorder.record_job(spec, inputs=inputs, outputs=[output], initiated_by=workflow,
                            reference=f"{name} {index}", reference_type="bench")
    end = time.time()
    recorder.finish_run(workflow)
    print(start, end, flush=True)
""")


def writers_round(db: str, folder: Path, prefix: str, writers: int, jobs: int) -> dict:
    """`writers` processes recording `jobs` jobs each into `db`, started together."""
    make_inputs(folder)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, db, str(folder), f"{prefix}w{n:02d}", str(jobs)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(writers)
    ]
    ready = [process.stdout.readline().strip() == "ready" for process in processes]
    for process in processes:
        if process.poll() is None:
            process.stdin.write("go\n")
            process.stdin.flush()
    outcomes = [process.communicate() for process in processes]
    spans = [tuple(map(float, out.split())) for out, _ in outcomes if len(out.split()) == 2]
    failed = [err.strip().splitlines()[-1:] for (out, err), process, ok in zip(outcomes, processes, ready)
              if process.returncode or not ok]  # fmt: skip
    ledger = open_ledger(resolve_ledger_path(db))
    found = ledger.query(COMPLETE_JOBS_SQL, (f"{prefix}w%",))[0]
    ledger.close()
    seconds = max(end for _, end in spans) - min(start for start, _ in spans) if spans else float("nan")
    return {
        "seconds": seconds,
        "per_s": (found["whole"] or 0) / seconds,
        "lost": writers * jobs - (found["whole"] or 0),
        "doubled": found["jobs"] - found["distinct_jobs"],
        "failed": failed,
        "wait_ms": statistics.median((end - start) / jobs * 1e3 for start, end in spans) if spans else float("nan"),
    }


def many_writers(ledgers: Ledgers, root: Path, writers: int, jobs: int, rounds: int) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {store: [] for store in STORES}
    for index in range(rounds):
        for store in STORES if index % 2 == 0 else STORES[::-1]:
            folder = root / f"round{index}-{store}"
            result = writers_round(ledgers.new(store), folder, f"r{index}{store[0]}", writers, jobs)
            results[store].append(result)
            print(
                f"  round {index + 1} {store:10s} {writers * jobs:,} jobs in {result['seconds']:6.1f} s = "
                f"{result['per_s']:7.1f} jobs/s (each writer {result['wait_ms']:.1f} ms per job), "
                f"lost {result['lost']}, doubled {result['doubled']}"
                + (f", FAILED writers: {result['failed']}" if result["failed"] else ""),
                flush=True,
            )
            shutil.rmtree(folder, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000, help="jobs per case, or per writer (default 1000)")
    parser.add_argument("--writers", type=int, default=0, help="processes recording at once (e.g. 16)")
    parser.add_argument("--rounds", type=int, default=2, help="with --writers: rounds per store (default 2)")
    parser.add_argument("--url", help="a PostgreSQL ledger of your own to record into (default: a throw-away server)")
    parser.add_argument("--durable", action="store_true", help="fsync each commit (PG fsync, SQLite FULL)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowledger-bench-") as scratch:
        ledgers = Ledgers(Path(scratch), args.url, args.durable)
        try:
            print(f"{ledgers.settings()}; SQLite synchronous={'FULL' if args.durable else 'NORMAL'}", flush=True)
            if args.writers:
                print(f"{args.writers} writer processes x {args.jobs} jobs, {args.rounds} round(s) per store")
                results = many_writers(ledgers, Path(scratch), args.writers, args.jobs, args.rounds)
                rate = {store: statistics.median(r["per_s"] for r in found) for store, found in results.items()}
                lost = {store: sum(r["lost"] + r["doubled"] for r in found) for store, found in results.items()}
                ratio = rate["postgresql"] / rate["sqlite"]
                print(
                    f"postgres_record: {args.writers} writers x {args.jobs} jobs: PostgreSQL {rate['postgresql']:.0f} "
                    f"jobs/s, SQLite {rate['sqlite']:.0f} jobs/s (PG/SQLite {ratio:.2f}); "
                    f"lost or doubled: PG {lost['postgresql']}, SQLite {lost['sqlite']} (expected 0)"
                )
                return
            trip = ledgers.round_trip_us()
            print(f"{args.jobs} jobs per store, interleaved job by job; one round trip (SELECT 1) {trip:.0f} us")
            times, statements = single(ledgers, Path(scratch) / "single", args.jobs)
        finally:
            ledgers.close()
    stats = {}
    for store in STORES:
        ordered = sorted(times[store])
        stats[store] = statistics.median(ordered) * 1e3
        print(
            f"  {store:10s} median {stats[store]:6.3f} ms   p95 {ordered[int(0.95 * (len(ordered) - 1))] * 1e3:6.3f} ms"
            f"   {statements[store]:.0f} SQL statements per job"
        )
    ratio = stats["postgresql"] / stats["sqlite"]
    print(
        f"postgres_record: {args.jobs} jobs, record_job on PostgreSQL {stats['postgresql']:.3f} ms "
        f"(target <= 2: {'ok' if stats['postgresql'] <= 2 else 'OVER'}), SQLite {stats['sqlite']:.3f} ms, "
        f"PG/SQLite {ratio:.2f}x (target <= 3: {'ok' if ratio <= 3 else 'OVER'})"
    )


if __name__ == "__main__":
    main()
