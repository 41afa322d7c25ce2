"""Ancestor queries on PostgreSQL against SQLite, on the same ledger of 1,000,000 runs.

Both ledgers get the same rows, made once and streamed into both with bulk SQL on the schema the
migrations create (SQLite: executemany in one transaction; PostgreSQL: COPY in one transaction): the
shape of bench/core_ancestors.py: chains of `--depth` jobs, each reading the previous job's output and
one reference file shared by all jobs, one long chain of `--long` jobs, and one aggregate job reading the
final outputs of `--width` chains. Then ANALYZE on both (PostgreSQL: VACUUM ANALYZE, as autovacuum
would do after a bulk load). Timed, the same query on both, interleaved repeat by repeat (median of
`--repeat`): `lineage.ANCESTORS_SQL` with `lineage.seeds(("artifact", id))` through `ledger.query`, for

    deep   the output of one chain (`--depth` runs above it)
    wide   the aggregate's output (width x depth + 1 runs)
    long   the end of the long chain (`--long` runs, as many steps of the recursion)

Baseline: one artifact by primary key on each store (what a round trip costs). Target: PG <= 2x SQLite.

`--seed-estimate` also times PostgreSQL with the seeds' `json_each` estimated at 1 row instead of 100 (a
function in a schema of its own, found first by a second connection; dropped at the end). With 100, the
recursive query is estimated at ~10,000 rows: on small ledgers the planner hashes all of `artifacts` and
`run_inputs` on every call, and on large ones the plan's cost passes `jit_above_cost`, so every call is
JIT-compiled (~10 ms, most of a small walk's time).

    uv run python bench/postgres_ancestors.py                    # 1,000,000 runs (both built in ~3 minutes)
    uv run python bench/postgres_ancestors.py --runs 100000 --repeat 5
    uv run python bench/postgres_ancestors.py --db /tmp/big.db --url postgresql://...   # keep both (reused)
"""

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flowledger import lineage
from flowledger.location import ServerLedger
from flowledger.store import open_ledger

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from postgres_server import start_server

STAMP = "2026-01-01T00:00:00.000000+00:00"
FLUSH_ROWS = 50_000
STORES = ("postgresql", "sqlite")
ESTIMATE = "pg 1-row seed"
ESTIMATE_SCHEMA = "bench_seed_estimate"
# The ledger's json_each (an SQL function, inlined: jsonb_array_elements, estimated at 100 rows), as plpgsql
# estimated at 1 row: the recursive query's estimate (and cost) then follows.
ESTIMATE_FUNCTION = f"""CREATE OR REPLACE FUNCTION {ESTIMATE_SCHEMA}.json_each(text) RETURNS TABLE(value text)
LANGUAGE plpgsql IMMUTABLE ROWS 1 AS $$ BEGIN RETURN QUERY
SELECT CASE WHEN jsonb_typeof(e) = 'string' THEN e #>> '{{}}' ELSE e::text END
FROM jsonb_array_elements($1::jsonb) AS e; END $$"""
RUN_COLUMNS = "id, uid, transform_id, started_at, finished_at, created_by_id, created_at, initiated_by_run_id, status"
ARTIFACT_COLUMNS = (
    "id, uid, path, kind, suffix, size, hash, hash_type, version, is_latest, run_id, created_by_id, created_at"
)
TABLES = {"runs": RUN_COLUMNS, "artifacts": ARTIFACT_COLUMNS, "run_inputs": "run_id, artifact_id"}


class Builder:
    """Rows with ids chosen here, handed to `sink(table, rows)` every FLUSH_ROWS artifacts (runs first,
    then artifacts, then inputs: PostgreSQL checks each reference at the end of each statement)."""

    def __init__(self, sink):
        self.sink = sink
        self.rows: dict[str, list[tuple]] = {table: [] for table in TABLES}
        self.run_count = self.artifact_count = 0

    def artifact(self, path: str, run_id: int | None) -> int:
        self.artifact_count += 1
        number = self.artifact_count
        self.rows["artifacts"].append(
            (number, f"A{number:019d}", path, "file", ".txt", 10, f"{number:064x}", "sha256", 1, 1, run_id, 1, STAMP)
        )
        return number

    def run(self, transform_id: int, parent: int | None, inputs: list[int]) -> int:
        self.run_count += 1
        number = self.run_count
        self.rows["runs"].append((number, f"R{number:015d}", transform_id, STAMP, STAMP, 1, STAMP, parent, "completed"))
        self.rows["run_inputs"].extend((number, artifact_id) for artifact_id in inputs)
        return number

    def job(self, transform_id: int, parent: int, inputs: list[int], output: str) -> int:
        return self.artifact(output, self.run(transform_id, parent, inputs))

    def chain(self, name: str, depth: int, parent: int, reference: int) -> int:
        """`depth` jobs in a row from a new raw input; returns the final output's id."""
        current = self.artifact(f"/data/{name}/raw.fastq", None)
        for level in range(1, depth + 1):
            current = self.job(level + 2, parent, [current, reference], f"/results/{name}/step{level}.txt")
        if len(self.rows["artifacts"]) >= FLUSH_ROWS:
            self.flush()
        return current

    def flush(self) -> None:
        for table, rows in self.rows.items():
            if rows:
                self.sink(table, rows)
            self.rows[table] = []


def build(sinks: list, runs: int, depth: int, width: int, long: int) -> dict[str, int]:
    """Stream the ledger's rows into every sink; returns the ids of the artifacts to query."""
    transforms = [
        (1, "T000000000010000", "workflow", "pipeline"),
        (2, "T000000000020000", "aggregate", "rule"),
        *[(level + 2, f"T{level + 2:011d}0000", f"step{level}", "rule") for level in range(1, max(depth, long) + 1)],
    ]
    for sink in sinks:
        sink.start(transforms)
    rows = Builder(lambda table, found: [sink.insert(table, found) for sink in sinks])
    workflow = rows.run(1, None, [])
    reference = rows.artifact("/data/genome.fa", None)
    long_end = rows.chain("long", long, workflow, reference)
    chains = (runs - rows.run_count - 1) // depth
    ends = []
    for number in range(chains):
        end = rows.chain(f"sample{number}", depth, workflow, reference)
        if number < width or number == chains - 1:
            ends.append(end)
    wide = rows.job(2, workflow, ends[:width], "/results/summary.txt")
    if runs > rows.run_count:
        rows.chain("rest", runs - rows.run_count, workflow, reference)  # exactly `runs` runs
    rows.flush()
    for sink in sinks:
        sink.finish()
    return {"deep": ends[-1], "wide": wide, "long": long_end}


class SqliteSink:
    def __init__(self, ledger):
        self.ledger = ledger

    def start(self, transforms, defer_foreign_keys: bool = True) -> None:
        self.writing = self.ledger.write()
        conn = self.conn = self.writing.__enter__()
        conn.execute("INSERT INTO users (id, uid, handle, created_at) VALUES (1, 'U0000001', 'bench', ?)", (STAMP,))
        conn.executemany(
            "INSERT INTO transforms (id, uid, name, type, created_by_id, created_at) VALUES (?, ?, ?, ?, 1, ?)",
            [(*t, STAMP) for t in transforms],
        )
        if defer_foreign_keys:  # runs and artifacts refer to each other (PostgreSQL: checked per statement)
            conn.execute("PRAGMA defer_foreign_keys = ON")

    def insert(self, table: str, rows: list[tuple]) -> None:
        marks = ", ".join("?" * len(rows[0]))
        self.conn.executemany(f"INSERT INTO {table} ({TABLES[table]}) VALUES ({marks})", rows)

    def finish(self) -> None:
        self.writing.__exit__(None, None, None)


class PostgresSink(SqliteSink):
    def start(self, transforms, defer_foreign_keys: bool = False) -> None:
        super().start(transforms, defer_foreign_keys)

    def insert(self, table: str, rows: list[tuple]) -> None:
        with self.conn.raw.cursor() as cursor, cursor.copy(f"COPY {table} ({TABLES[table]}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def finish(self) -> None:
        for table in ("users", "transforms", "runs", "artifacts"):  # identities go on after the ids given here
            self.conn.raw.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        super().finish()


def targets(ledger) -> dict[str, int]:
    """The artifacts to query in a ledger built before (as bench/core_ancestors.py finds them). Patterns are
    parameters: a `%` in a literal reaches psycopg unescaped (`postgres.translate` doubles only the code's)."""
    one = lambda path: ledger.query("SELECT id FROM artifacts WHERE path = ?", (path,))[0]["id"]  # noqa: E731
    last = ledger.query("SELECT max(id) AS id FROM artifacts WHERE path LIKE ?", ("/data/sample%",))[0]["id"]
    sample = ledger.query("SELECT path FROM artifacts WHERE id = ?", (last,))[0]["path"].split("/")[2]
    deepest = ledger.query(
        "SELECT path FROM artifacts WHERE path LIKE ? ORDER BY id DESC LIMIT 1", (f"/results/{sample}/%",)
    )[0]["path"]
    long_end = ledger.query(
        "SELECT path FROM artifacts WHERE path LIKE ? ORDER BY id DESC LIMIT 1", ("/results/long/%",)
    )
    return {"deep": one(deepest), "wide": one("/results/summary.txt"), "long": one(long_end[0]["path"])}


def size_mb(store: str, ledger, path: Path | None) -> float:
    if store == "sqlite":
        return path.stat().st_size / 1e6
    return ledger.query("SELECT pg_database_size(current_database()) AS n")[0]["n"] / 1e6


def estimate_session(ledger):
    """Another connection to the PostgreSQL ledger, finding a json_each estimated at 1 row first (its own schema,
    dropped at the end; the ledger's own function is left as it is)."""
    ledger.conn.raw.execute(f"CREATE SCHEMA IF NOT EXISTS {ESTIMATE_SCHEMA}")
    ledger.conn.raw.execute(ESTIMATE_FUNCTION)
    session = open_ledger(ledger.path)
    session.conn.raw.execute(f"SET search_path = {ESTIMATE_SCHEMA}, public")
    return session


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1_000_000, help="runs in the ledger (default 1,000,000)")
    parser.add_argument("--depth", type=int, default=10, help="jobs per chain (default 10)")
    parser.add_argument("--width", type=int, default=1000, help="chains the aggregate job reads (default 1000)")
    parser.add_argument("--long", type=int, default=1000, help="jobs in the one long chain (default 1000)")
    parser.add_argument("--repeat", type=int, default=20, help="timings per query and store (median)")
    parser.add_argument("--db", help="SQLite ledger to build (or reuse when it exists); default: a temporary one")
    parser.add_argument("--url", help="PostgreSQL ledger to build (or reuse when it holds runs); default: a new "
                        "database on a throw-away server")  # fmt: skip
    parser.add_argument(
        "--seed-estimate",
        action="store_true",
        help=f"also time PostgreSQL with json_each estimated at 1 row ({ESTIMATE!r}): the default estimate of 100 "
        "makes the planner hash whole tables on small ledgers, and compile the query with JIT on large ones",
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="flowledger-bench-"))
    server = None if args.url else start_server()
    if not args.url and server is None:
        raise SystemExit("no PostgreSQL server programs (apt-get install postgresql), and no --url given")
    try:
        path = Path(args.db or scratch / "ledger.db")
        reuse = {"sqlite": path.exists()}
        ledgers = {"sqlite": open_ledger(path)}
        ledgers["postgresql"] = open_ledger(ServerLedger(args.url or server.url(server.new_database())))
        reuse["postgresql"] = bool(ledgers["postgresql"].query("SELECT count(*) AS n FROM runs")[0]["n"])
        sinks = [(PostgresSink if s == "postgresql" else SqliteSink)(ledgers[s]) for s in STORES if not reuse[s]]
        start = time.perf_counter()
        ids = build(sinks, args.runs, args.depth, args.width, args.long) if sinks else None
        built = time.perf_counter() - start
        for store in STORES:
            found = targets(ledgers[store])
            if ids is not None and found != ids:
                raise SystemExit(f"the reused {store} ledger is not the one built now ({found} != {ids})")
            ids = found
        start = time.perf_counter()
        ledgers["sqlite"].conn.execute("ANALYZE")
        ledgers["postgresql"].conn.raw.execute("VACUUM ANALYZE")
        analyzed = time.perf_counter() - start
        counts = {}
        for store in STORES:
            counts[store] = ledgers[store].query(
                "SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM artifacts) AS artifacts"
            )[0]
            state = (
                "reused" if reuse[store] else f"built in {built:.0f} s{' (both together)' if len(sinks) > 1 else ''}"
            )
            print(
                f"{store:10s} {counts[store]['runs']:,} runs, {counts[store]['artifacts']:,} artifacts, {state}, "
                f"{size_mb(store, ledgers[store], path):,.0f} MB",
                flush=True,
            )
        if counts["sqlite"] != counts["postgresql"]:
            raise SystemExit("the two ledgers differ: pass the same --runs (or new ledgers)")
        print(f"ANALYZE on both: {analyzed:.1f} s")

        sessions = ["postgresql", "sqlite"]
        if args.seed_estimate:
            ledgers[ESTIMATE] = estimate_session(ledgers["postgresql"])
            sessions.insert(1, ESTIMATE)

        def baseline(store: str):
            return lambda: ledgers[store].query("SELECT * FROM artifacts WHERE id = ?", (ids["deep"],))

        def ancestors(store: str, name: str):
            return lambda: ledgers[store].query(lineage.ANCESTORS_SQL, (lineage.seeds(("artifact", ids[name])),))

        cases = {"baseline": baseline, **{name: lambda store, name=name: ancestors(store, name) for name in ids}}
        nodes = {}
        for name in ids:  # the same answer everywhere (and a warm cache)
            found = {store: sorted((row["kind"], row["id"]) for row in ancestors(store, name)()) for store in sessions}
            if any(nodes != found["sqlite"] for nodes in found.values()):
                raise SystemExit(f"{name}: {', '.join(f'{s} finds {len(n)} nodes' for s, n in found.items())}")
            nodes[name] = found["sqlite"]
        times: dict[tuple[str, str], list[float]] = {}
        for index in range(args.repeat):
            order = sessions[index % len(sessions) :] + sessions[: index % len(sessions)]  # rotating
            for case, make in cases.items():
                for store in order:
                    times.setdefault((case, store), []).extend(
                        timed(make(store)) for _ in range(10 if case == "baseline" else 1)
                    )
        median = {key: statistics.median(found) * 1e3 for key, found in times.items()}
        print(
            "baseline: one artifact by primary key: "
            + ", ".join(f"{store} {median['baseline', store] * 1e3:.0f} us" for store in sessions)
        )
        summary, worst = [], 0.0
        for name in ids:
            runs = sum(kind == "run" for kind, _ in nodes[name])
            pg, sqlite = median[name, "postgresql"], median[name, "sqlite"]
            worst = max(worst, pg / sqlite)
            variant = median.get((name, ESTIMATE))
            print(
                f"{name:5s} ancestors {runs:6,} runs {len(nodes[name]) - runs:6,} artifacts: PostgreSQL {pg:8.2f} ms, "
                f"SQLite {sqlite:8.2f} ms, PG/SQLite {pg / sqlite:5.2f}x"
                + (f"; {ESTIMATE} {variant:8.2f} ms = {variant / sqlite:5.2f}x" if variant else "")
            )
            summary.append(f"{name} {pg:.1f}/{sqlite:.1f} ms = {pg / sqlite:.2f}x")
        if args.seed_estimate:
            ledgers["postgresql"].conn.raw.execute(f"DROP SCHEMA {ESTIMATE_SCHEMA} CASCADE")
        for ledger in ledgers.values():
            ledger.close()
    finally:
        if server:
            server.stop()
            shutil.rmtree(server.folder, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"postgres_ancestors: {counts['sqlite']['runs']:,} runs; PG/SQLite: {', '.join(summary)} "
        f"(target <= 2x: {'ok' if worst <= 2 else 'OVER'})"
    )


if __name__ == "__main__":
    main()
