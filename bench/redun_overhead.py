"""Overhead of the redun plugin: N trivial tasks that each write a small file, with and without it.

Each run is a fresh process in a fresh folder (fresh redun database, fresh ledger), alternating
plain / plugin so that load on a shared machine hits both alike. Prints the median wall-time
ratio of `Scheduler.run` (plugin / plain; target <= 1.05), the same for the whole process and
for CPU time (process time during `run`: steadier than wall time on a shared machine), and
the plugin's own CPU time per job: its hooks on redun's scheduler thread plus the recorder's
thread that hashes the files and writes the ledger.

    uv run python bench/redun_overhead.py                 # 500 tasks, 3 pairs
    uv run python bench/redun_overhead.py --tasks 100 --repeats 2 --redun-db memory
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

WORKER_FLAG = "--worker"


def worker(mode: str, tasks: int, folder: str, redun_db: str) -> None:
    """One measured run, in this process; prints a JSON line."""
    started = time.perf_counter()
    import redun
    from redun import File
    from redun.config import Config

    if mode == "plugin":
        import flowledger.background as background
        from flowledger_redun import Scheduler

        recorder_cpu = []
        work = background.BackgroundRecorder._work

        def timed_work(self):
            try:
                work(self)
            finally:
                recorder_cpu.append(time.thread_time())

        background.BackgroundRecorder._work = timed_work
    else:
        Scheduler = redun.Scheduler

    @redun.task(namespace="fl_bench")
    def write(i: int, outdir: str) -> File:
        out = File(os.path.join(outdir, f"{i}.txt"))
        out.write(f"{i}\n")
        return out

    @redun.task(namespace="fl_bench")
    def main(n: int, outdir: str) -> list:
        return [write(i, outdir) for i in range(n)]

    os.chdir(folder)
    os.makedirs("out")
    db_uri = "sqlite:///:memory:" if redun_db == "memory" else "sqlite:///redun.db"
    scheduler = Scheduler(config=Config({"backend": {"db_uri": db_uri}}))
    scheduler.load()
    t0, c0 = time.perf_counter(), time.process_time()
    result = scheduler.run(main(tasks, "out"))
    run_wall, run_cpu = time.perf_counter() - t0, time.process_time() - c0
    assert len(result) == tasks
    line = {"mode": mode, "run_wall": run_wall, "run_cpu": run_cpu}
    if mode == "plugin":
        observer = scheduler.flowledger_last_tracker
        line["hook_cpu"] = observer.cpu_ns / 1e9
        line["recorder_cpu"] = sum(recorder_cpu)
        line["jobs"] = observer.jobs_seen
    line["process_wall"] = time.perf_counter() - started
    print(json.dumps(line))


def measure(mode: str, tasks: int, redun_db: str) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"fl-redun-bench-{mode}-") as folder:
        env = dict(os.environ, FLOWLEDGER_DB=os.path.join(folder, "ledger.db"))
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, WORKER_FLAG, mode, str(tasks), folder, redun_db],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            sys.exit(f"{mode} run failed:\n{done.stderr[-3000:]}")
        if mode == "plugin" and "flowledger" in done.stderr:
            sys.exit(f"the plugin warned:\n{done.stderr[-3000:]}")
        line = json.loads(done.stdout.strip().splitlines()[-1])
        line["subprocess_wall"] = wall
        return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500, help="trivial tasks per run (default 500)")
    parser.add_argument("--repeats", type=int, default=3, help="plain/plugin pairs (default 3)")
    parser.add_argument(
        "--redun-db",
        choices=["file", "memory"],
        default="file",
        help="redun's own database: a SQLite file as `redun run` uses (default) or :memory:",
    )
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"plain": [], "plugin": []}
    for repeat in range(args.repeats):
        order = ("plain", "plugin") if repeat % 2 == 0 else ("plugin", "plain")
        for mode in order:
            line = measure(mode, args.tasks, args.redun_db)
            runs[mode].append(line)
            print(
                f"  {mode:6} run {line['run_wall']:7.2f} s (CPU {line['run_cpu']:6.2f} s)  "
                f"process {line['subprocess_wall']:7.2f} s",
                flush=True,
            )

    def med(mode, key):
        return statistics.median(r[key] for r in runs[mode])

    plugin = runs["plugin"]
    jobs = statistics.median(r["jobs"] for r in plugin)
    hook_ms = statistics.median(r["hook_cpu"] for r in plugin) / jobs * 1e3
    recorder_ms = statistics.median(r["recorder_cpu"] for r in plugin) / jobs * 1e3
    print(f"redun {args.tasks} tasks x {args.repeats} pairs, redun db = {args.redun_db}, {os.cpu_count()} CPUs")
    print(
        f"median Scheduler.run wall: plain {med('plain', 'run_wall'):.2f} s, plugin {med('plugin', 'run_wall'):.2f} s"
        f" -> ratio {med('plugin', 'run_wall') / med('plain', 'run_wall'):.3f} (target <= 1.05)"
    )
    print(
        f"median process wall:       plain {med('plain', 'subprocess_wall'):.2f} s, plugin "
        f"{med('plugin', 'subprocess_wall'):.2f} s -> ratio "
        f"{med('plugin', 'subprocess_wall') / med('plain', 'subprocess_wall'):.3f}"
    )
    print(
        f"median Scheduler.run CPU:  plain {med('plain', 'run_cpu'):.2f} s, plugin {med('plugin', 'run_cpu'):.2f} s"
        f" -> ratio {med('plugin', 'run_cpu') / med('plain', 'run_cpu'):.3f} (steadier than wall on a busy host)"
    )
    print(
        f"plugin CPU per job: {hook_ms:.3f} ms in hooks on redun's scheduler thread + {recorder_ms:.3f} ms in the "
        f"recorder thread (hashing, ledger writes) = {hook_ms + recorder_ms:.3f} ms ({int(jobs)} jobs per run)"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == WORKER_FLAG:
        worker(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        main()
