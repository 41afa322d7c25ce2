"""What full durability costs: `Recorder.record_job` with FLOWLEDGER_DURABILITY=normal (the default: WAL,
no fsync per commit) against =full (an fsync per commit), interleaved round by round on one disk.

    uv run python bench/durability.py [--jobs 200] [--rounds 5]

Prints the median time per job of each setting and their ratio (full / normal).
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from flowledger.plugin_api import Recorder, TransformSpec


def one_round(folder: Path, setting: str, jobs: int) -> float:
    os.environ["FLOWLEDGER_DURABILITY"] = setting
    recorder = Recorder(folder / f"{setting}-{time.monotonic_ns()}.db")
    inputs = [folder / "a.txt", folder / "b.txt"]
    started = time.perf_counter()
    for i in range(jobs):
        out = folder / f"out-{setting}-{i}.txt"
        out.write_text(f"{setting} {i} {time.monotonic_ns()}")
        recorder.record_job(TransformSpec("step", type="rule"), inputs=inputs, outputs=[out])
    elapsed = (time.perf_counter() - started) / jobs
    recorder.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowledger-durability-", dir=Path.cwd()) as tmp:
        folder = Path(tmp)
        for name in ("a.txt", "b.txt"):
            (folder / name).write_text(name)
        times: dict[str, list[float]] = {"normal": [], "full": []}
        for _ in range(args.rounds):
            for setting in ("normal", "full"):
                times[setting].append(one_round(folder, setting, args.jobs))
    normal, full = statistics.median(times["normal"]), statistics.median(times["full"])
    print(f"record_job, {args.jobs} jobs x {args.rounds} interleaved rounds, ledger on {Path.cwd()}'s disk")
    print(f"  normal (default): {normal * 1000:.3f} ms per job")
    print(f"  full            : {full * 1000:.3f} ms per job")
    print(f"durability full / normal = {full / normal:.2f}x")


if __name__ == "__main__":
    main()
