"""Ancestor queries (`flowledger.lineage.ancestors`) on a ledger of 100,000 runs.

The ledger is built with plain SQL on the schema the migrations create, in one transaction: chains of
`--depth` jobs, each job reading the previous job's output and one reference file shared by all jobs
(a genome index, say), one long chain of `--long` jobs, and one aggregate job that reads the final
outputs of `--width` chains. Timed, median of `--repeat`:
  deep: the output of one chain (`--depth` runs above it), wide: the aggregate's output
  (width x depth + 1 runs), long: the end of the long chain, and the descendants of one raw input.
Each is timed twice: the recursive query alone (ids only), and `ancestors()` / `descendants()` (which
also load the records and edges, as the CLI and the Python API do).
The baseline, in the same run, is one primary-key lookup of an artifact.

    uv run python bench/core_ancestors.py                       # 100,000 runs
    uv run python bench/core_ancestors.py --runs 10000 --repeat 5
    uv run python bench/core_ancestors.py --db /tmp/big.db      # keep the ledger (reused if it is there)
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from flowledger import lineage
from flowledger.models import Artifact
from flowledger.store import Ledger

STAMP = "2026-01-01T00:00:00.000000+00:00"


class Builder:
    """Rows with ids chosen here, inserted with executemany."""

    def __init__(self):
        self.runs, self.artifacts, self.inputs = [], [], []

    def artifact(self, path: str, run_id: int | None) -> int:
        artifact_id = len(self.artifacts) + 1
        self.artifacts.append(
            (
                artifact_id,
                f"A{artifact_id:019d}",
                path,
                "file",
                ".txt",
                10,
                f"{artifact_id:064x}",
                "sha256",
                1,
                1,
                run_id,
                1,
                STAMP,
            )
        )
        return artifact_id

    def run(self, transform_id: int, parent: int | None, inputs: list[int]) -> int:
        run_id = len(self.runs) + 1
        self.runs.append((run_id, f"R{run_id:015d}", transform_id, STAMP, STAMP, 1, STAMP, parent, "completed"))
        self.inputs.extend((run_id, artifact_id) for artifact_id in inputs)
        return run_id

    def job(self, transform_id: int, parent: int, inputs: list[int], output: str) -> int:
        """A run and the one artifact it made; returns the artifact's id."""
        return self.artifact(output, self.run(transform_id, parent, inputs))

    def chain(self, name: str, depth: int, parent: int, reference: int) -> tuple[int, int]:
        """`depth` jobs in a row from a new raw input; returns (raw input id, final output id)."""
        raw = current = self.artifact(f"/data/{name}/raw.fastq", None)
        for level in range(1, depth + 1):
            current = self.job(level + 2, parent, [current, reference], f"/results/{name}/step{level}.txt")
        return raw, current


def build(ledger: Ledger, runs: int, depth: int, width: int, long: int) -> dict[str, int]:
    """Fill an empty ledger; returns the ids of the artifacts to query."""
    rows = Builder()
    workflow = rows.run(1, None, [])
    reference = rows.artifact("/data/genome.fa", None)
    _, long_end = rows.chain("long", long, workflow, reference)
    chains = (runs - len(rows.runs) - 1) // depth
    ends = [rows.chain(f"sample{c}", depth, workflow, reference) for c in range(chains)]
    wide = rows.job(2, workflow, [end for _, end in ends[:width]], "/results/summary.txt")
    if runs > len(rows.runs):
        rows.chain("rest", runs - len(rows.runs), workflow, reference)  # exactly `runs` runs
    transforms = [
        (1, "T000000000010000", "workflow", "pipeline"),
        (2, "T000000000020000", "aggregate", "rule"),
        *[(level + 2, f"T{level + 2:011d}0000", f"step{level}", "rule") for level in range(1, max(depth, long) + 1)],
    ]
    with ledger.write() as conn:
        conn.execute("INSERT INTO users (id, uid, handle, created_at) VALUES (1, 'U0000001', 'bench', ?)", (STAMP,))
        conn.executemany(
            "INSERT INTO transforms (id, uid, name, type, created_by_id, created_at) VALUES (?, ?, ?, ?, 1, ?)",
            [(*t, STAMP) for t in transforms],
        )
        conn.execute("PRAGMA defer_foreign_keys = ON")  # runs and artifacts refer to each other
        conn.executemany(
            "INSERT INTO runs (id, uid, transform_id, started_at, finished_at, created_by_id, "
            "created_at, initiated_by_run_id, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows.runs,
        )
        conn.executemany(
            "INSERT INTO artifacts (id, uid, path, kind, suffix, size, hash, hash_type, version, "
            "is_latest, run_id, created_by_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows.artifacts,
        )
        conn.executemany("INSERT INTO run_inputs (run_id, artifact_id) VALUES (?, ?)", rows.inputs)
    return {"deep": ends[-1][1], "wide": wide, "long": long_end, "raw": ends[-1][0]}


def targets(ledger: Ledger) -> dict[str, int]:
    """The artifacts to query in a ledger built before."""
    one = lambda path: ledger.query("SELECT id FROM artifacts WHERE path = ?", (path,))[0]["id"]  # noqa: E731
    last = ledger.query("SELECT path FROM artifacts WHERE path LIKE '/data/sample%' ORDER BY id DESC LIMIT 1")
    sample = last[0]["path"].split("/")[2]
    deepest = ledger.query(
        "SELECT path FROM artifacts WHERE path LIKE ? ORDER BY id DESC LIMIT 1", (f"/results/{sample}/%",)
    )[0]["path"]
    long_end = ledger.query("SELECT path FROM artifacts WHERE path LIKE '/results/long/%' ORDER BY id DESC LIMIT 1")[0][
        "path"
    ]
    return {
        "deep": one(deepest),
        "wide": one("/results/summary.txt"),
        "long": one(long_end),
        "raw": one(f"/data/{sample}/raw.fastq"),
    }


def median_ms(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000, help="runs in the ledger (default 100,000)")
    parser.add_argument("--depth", type=int, default=10, help="jobs per chain (default 10)")
    parser.add_argument("--width", type=int, default=100, help="chains the aggregate job reads (default 100)")
    parser.add_argument("--long", type=int, default=1000, help="jobs in the one long chain (default 1000)")
    parser.add_argument("--repeat", type=int, default=20, help="timings per query (median)")
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="run ANALYZE first (as `PRAGMA optimize` would): SQLite then plans the ancestor query "
        "with a Bloom filter that scans all artifacts",
    )
    parser.add_argument("--db", help="ledger file to build (or reuse when it exists); default: a temporary one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowledger-bench-") as scratch:
        path = Path(args.db or Path(scratch) / "ledger.db")
        reuse = path.exists()
        ledger = Ledger(path)
        start = time.perf_counter()
        ids = targets(ledger) if reuse else build(ledger, args.runs, args.depth, args.width, args.long)
        built = time.perf_counter() - start
        ledger.conn.execute("ANALYZE" if args.analyze else "DROP TABLE IF EXISTS sqlite_stat1")
        ledger.close()
        ledger = Ledger(path)  # a new connection plans with (or without) the statistics
        total_runs = ledger.query("SELECT count(*) AS n FROM runs")[0]["n"]
        total_artifacts = ledger.query("SELECT count(*) AS n FROM artifacts")[0]["n"]
        print(
            f"ledger: {total_runs:,} runs, {total_artifacts:,} artifacts, "
            f"{'reused' if reuse else f'built in {built:.1f} s'} ({path.stat().st_size / 1e6:.0f} MB)"
            f"{', with ANALYZE statistics' if args.analyze else ''}"
        )
        baseline = median_ms(
            lambda: ledger.query("SELECT * FROM artifacts WHERE id = ?", (ids["deep"],)), args.repeat * 10
        )
        print(f"baseline: one artifact by primary key {baseline * 1e3:.1f} us")
        summary = []
        for name, walk, sql in (
            ("deep", lineage.ancestors, lineage.ANCESTORS_SQL),
            ("wide", lineage.ancestors, lineage.ANCESTORS_SQL),
            ("long", lineage.ancestors, lineage.ANCESTORS_SQL),
            ("raw", lineage.descendants, lineage.DESCENDANTS_SQL),
        ):
            artifact = Artifact.using(ledger).filter(id=ids[name]).one()
            graph = walk(artifact)
            query = median_ms(
                lambda sql=sql, a=artifact: ledger.query(sql, (lineage.seeds(("artifact", a.id)),)), args.repeat
            )
            full = median_ms(lambda walk=walk, a=artifact: walk(a), args.repeat)
            label = f"{name} {'descendants' if walk is lineage.descendants else 'ancestors'}"
            print(
                f"{label:<18} {len(graph.runs):6,} runs {len(graph.artifacts):6,} artifacts: "
                f"query {query:8.2f} ms ({query / baseline:,.0f}x baseline), "
                f"with records {full:8.2f} ms ({full / query:.1f}x the query)"
            )
            summary.append(f"{name} {query:.2f}/{full:.1f} ms")
        ledger.close()
    print(f"core_ancestors: {total_runs:,} runs; query/with records: {', '.join(summary)}")


if __name__ == "__main__":
    main()
