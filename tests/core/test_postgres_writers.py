"""Many writers on one PostgreSQL ledger (issue 11): separate processes recording at once lose nothing and
double nothing, and two writers recording new content at the same path at the same moment leave one
version history (1..K, no gaps, one latest, every content there).

The writers are real processes (tests/core/pg_writer_job.py, driven over stdin/stdout, so that they start
at once and collide where the test wants), as pipelines sharing a ledger are; the version history is also
checked with threads that each have their own Recorder (a multi-threaded workflow manager), and on SQLite.
"""

import hashlib
import itertools
import select
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from flowledger.ids import version_suffix
from flowledger.location import resolve_ledger_path
from flowledger.plugin_api import Recorder
from flowledger.store import open_ledger
from pg_writer_job import SPEC, content

WRITER = Path(__file__).with_name("pg_writer_job.py")
PATIENCE_S = 120  # for any one answer of a writer: a deadlock fails the test instead of hanging it


def start_writer(*args: str) -> subprocess.Popen:
    # -W default: every warning (deprecations, unclosed resources) reaches stderr, which must stay empty
    return subprocess.Popen(
        [sys.executable, "-W", "default", str(WRITER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def answer(process: subprocess.Popen, timeout: float = PATIENCE_S) -> str:
    """The writer's next line (it never has more than one line outstanding)."""
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else None
    if not line:
        process.kill()
        _, errors = process.communicate()
        pytest.fail(f"writer {process.args[4:]} {'ended' if ready else 'hangs'}; stderr:\n{errors}")
    return line.strip()


def tell(process: subprocess.Popen, line: str) -> None:
    process.stdin.write(line + "\n")
    process.stdin.flush()


def finish(processes: list[subprocess.Popen], timeout: float) -> None:
    """All writers exit 0 with nothing on stderr."""
    errors = []
    for process in processes:
        try:
            errors.append(process.communicate(timeout=timeout)[1])
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            pytest.fail(f"writer {process.args[4:]} still running after {timeout} s (deadlock?)")
    assert [p.returncode for p in processes] == [0] * len(processes), errors
    assert errors == [""] * len(processes)


def server_log(postgres) -> Path:
    return postgres.folder / "server.log"


def new_log_lines(postgres, since: int) -> list[str]:
    with open(server_log(postgres), errors="replace") as log:
        log.seek(since)
        return [line for line in log if "ERROR" in line or "FATAL" in line or "deadlock" in line]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---- 16 writers, one ledger --------------------------------------------------------------------


def many_writers(postgres, tmp_path: Path, writers: int, jobs: int) -> None:
    """`writers` processes record `jobs` jobs each into a new ledger, all starting at once; then every job is
    there exactly once, whole, and the files they share are recorded once."""
    import psycopg

    url = postgres.url(postgres.new_database())  # a new, unmigrated database: the writers migrate it at once
    folder = (tmp_path / "data").resolve()
    folder.mkdir()
    inputs = [folder / "reads_1.fastq", folder / "reads_2.fastq"]
    for number, path in enumerate(inputs):
        path.write_text(f"@read{number}\nACGT\n+\nIIII\n")
    log_start = server_log(postgres).stat().st_size
    names = [f"w{n:02d}" for n in range(writers)]
    processes = [start_writer("jobs", url, str(folder), name, str(jobs)) for name in names]
    for process in processes:
        assert answer(process) == "ready"
    for process in processes:  # all at once
        tell(process, "go")
    finish(processes, timeout=PATIENCE_S + jobs)

    def whole_job(name: str, index: int) -> tuple:
        """(workflow, status, inputs, "output hash version is_latest") of a job as the writer recorded it."""
        output, text = folder / name / f"out_{index}.txt", f"{name} job {index}\n"
        return name, "completed", "|".join(str(path) for path in inputs), f"{output} {sha256(text)} 1 1"

    expected = {f"{name} {index}": whole_job(name, index) for name in names for index in range(jobs)}
    with psycopg.connect(url) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        rows = conn.execute(
            """SELECT r.reference, w.reference, r.status,
                 (SELECT string_agg(a.path, '|' ORDER BY a.path) FROM run_inputs ri
                  JOIN artifacts a ON a.id = ri.artifact_id WHERE ri.run_id = r.id),
                 (SELECT string_agg(a.path || ' ' || a.hash || ' ' || a.version || ' ' || a.is_latest, '|')
                  FROM artifacts a WHERE a.run_id = r.id)
               FROM runs r JOIN runs w ON w.id = r.initiated_by_run_id"""
        ).fetchall()
        found = {row[0]: row[1:] for row in rows}
        assert len(rows) == len(found) == writers * jobs  # no job doubled
        assert found == expected  # none lost, each whole: its workflow, both inputs, its one output
        assert one("SELECT count(DISTINCT uid) FROM runs") == one("SELECT count(*) FROM runs") == writers * (jobs + 1)
        workflows = conn.execute("SELECT reference, status FROM runs WHERE initiated_by_run_id IS NULL").fetchall()
        assert sorted(workflows) == [(name, "completed") for name in names]
        assert one("SELECT count(*) FROM artifacts") == writers * jobs + len(inputs)
        shared = conn.execute(
            "SELECT path, version, is_latest, run_id FROM artifacts WHERE path LIKE '%.fastq' ORDER BY path"
        ).fetchall()
        assert shared == [(str(path), 1, 1, None) for path in inputs]  # each shared input recorded once
        assert one("SELECT count(*) FROM run_inputs") == 2 * writers * jobs
        assert one("SELECT count(*) FROM run_replicated_artifacts") == 0
        assert one("SELECT count(*) FROM hash_cache") == writers * jobs + len(inputs)
        assert one("SELECT count(*) FROM users") == 1
        assert one("SELECT count(*) FROM transforms") == 2
    assert new_log_lines(postgres, log_start) == []


def test_16_writers_lose_nothing_and_double_nothing(postgres, tmp_path):
    many_writers(postgres, tmp_path, writers=16, jobs=50)


@pytest.mark.slow
def test_16_writers_of_1000_jobs_each_lose_nothing_and_double_nothing(postgres, tmp_path):
    many_writers(postgres, tmp_path, writers=16, jobs=1000)


# ---- two writers, one path, at the same moment ---------------------------------------------------


def collide_processes(url: str, path: Path, rounds: int) -> tuple[list[tuple[str, str]], list[int]]:
    """Each round: writer a writes and hashes its content, then b (the order alternates), then both write
    their transactions at once. Returns the (run uid, hash) each recorded, and the contents written."""
    writers = {name: start_writer("collide", url, str(path), name, str(rounds)) for name in ("a", "b")}
    for process in writers.values():
        assert answer(process) == "ready"
    recorded, written, number = [], [], itertools.count()
    for index in range(rounds):
        order = list(writers.values()) if index % 2 == 0 else list(writers.values())[::-1]
        for process in order:
            written.append(next(number))
            tell(process, f"write {written[-1]}")
            assert answer(process) == "hashed"
        for process in order:
            tell(process, "go")
        for process in order:
            word, uid, digest = answer(process).split()
            assert word == "done"
            recorded.append((uid, digest))
    finish(list(writers.values()), timeout=PATIENCE_S)
    return recorded, written


def collide_threads(url: str, path: Path, rounds: int) -> tuple[list[tuple[str, str]], list[int]]:
    """As collide_processes, with two threads each holding its own Recorder; a barrier between hashing
    and writing makes their transactions start together."""
    barrier = threading.Barrier(2, timeout=PATIENCE_S)
    file_lock = threading.Lock()
    number = itertools.count()
    recorded: list[tuple[str, str]] = []
    written: list[int] = []
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            recorder = Recorder(db=url)
            prepare = recorder.hasher.prepare
            hashed = []

            def write_hash_then_wait(**files):
                with file_lock:  # one writes and hashes, then the other
                    written.append(next(number))
                    path.write_text(content(written[-1]))
                    prepared = prepare(**files)
                hashed.append(prepared.outputs[0].hash)
                barrier.wait()
                return prepared

            recorder.hasher.prepare = write_hash_then_wait
            for index in range(rounds):
                uid = recorder.record_job(SPEC, outputs=[path], reference=f"{name} {index}", reference_type="test")
                recorded.append((uid, hashed[-1]))
            recorder.close()
        except BaseException as error:
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE_S * rounds)
    assert not any(thread.is_alive() for thread in threads), "a writer thread hangs (deadlock?)"
    if errors:
        raise errors[0]
    return recorded, written


@pytest.mark.parametrize("writers", ["processes", "threads"])
@pytest.mark.parametrize("store", ["postgresql", "sqlite"])
def test_two_writers_of_new_content_at_one_path_keep_one_version_history(store, writers, request, tmp_path):
    rounds = 30
    if store == "postgresql":
        postgres = request.getfixturevalue("postgres")
        url = postgres.url(postgres.new_database())
        log_start = server_log(postgres).stat().st_size
    else:
        url = str(tmp_path / "ledger.db")
    path = (tmp_path / "shared" / "result.txt").resolve()
    path.parent.mkdir()
    recorded, written = (collide_processes if writers == "processes" else collide_threads)(url, path, rounds)

    versions = 2 * rounds
    assert len(set(recorded)) == len(recorded) == versions
    assert sorted(digest for _, digest in recorded) == sorted(sha256(content(n)) for n in written)
    ledger = open_ledger(resolve_ledger_path(url))
    try:
        history = ledger.query(
            "SELECT a.id, a.uid, a.version, a.is_latest, a.hash, r.uid AS run FROM artifacts a "
            "LEFT JOIN runs r ON r.id = a.run_id WHERE a.path = ? ORDER BY a.id",
            (str(path),),
        )
        runs = ledger.query("SELECT count(*) AS n FROM runs")[0]["n"]
    finally:
        ledger.close()
    assert [row["version"] for row in history] == list(range(1, versions + 1))  # no gap, no fork, commit order
    assert [row["version"] for row in history if row["is_latest"] == 1] == [versions]  # exactly one latest
    assert {row["uid"][:16] for row in history} == {history[0]["uid"][:16]}  # one history
    assert [row["uid"][16:] for row in history] == [version_suffix(row["version"]) for row in history]
    assert sorted((row["run"], row["hash"]) for row in history) == sorted(recorded)  # every content, by its run
    assert runs == versions
    if store == "postgresql":
        assert new_log_lines(postgres, log_start) == []


# ---- found on the way ------------------------------------------------------------------------------


def test_a_percent_sign_in_a_string_literal_is_text_not_a_placeholder(postgres_ledgers):
    ledger = open_ledger(resolve_ledger_path(postgres_ledgers.fresh()))
    try:
        rows = ledger.query("SELECT 'a%b' AS text, count(*) AS n FROM runs WHERE reference LIKE 'job %'")
    finally:
        ledger.close()
    assert rows == [{"text": "a%b", "n": 0}]
