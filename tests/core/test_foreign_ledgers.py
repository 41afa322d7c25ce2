"""Files that are not flowledger ledgers, and ledgers of a newer flowledger, are refused and left untouched."""

import hashlib
import sqlite3
import subprocess
import sys

import pytest
from flowledger.migrations import migrations
from flowledger.plugin_api import LedgerError, Recorder, TransformSpec
from flowledger.store import Ledger, forget_ledgers


def flowledger(*args):
    return subprocess.run([sys.executable, "-m", "flowledger", *args], capture_output=True, text=True)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_foreign_sqlite_file_is_refused_and_left_byte_for_byte(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        conn.execute("INSERT INTO notes (text) VALUES ('mine')")
    before = digest(other)
    for args in (["--db", str(other), "runs"], ["runs", "--db", str(other)], ["--db", str(other), "init"]):
        result = flowledger(*args)
        assert result.returncode == 1, args
        assert result.stderr == (
            f"Error: {other} is not a flowledger ledger (an SQLite database with notes): "
            "nothing was changed; pass the path of a ledger, or a new path\n"
        )
    with pytest.raises(LedgerError, match="is not a flowledger ledger"):
        Recorder(other)
    assert digest(other) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.sqlite"]  # no -wal, -shm or lock files


def test_an_empty_file_becomes_a_ledger_only_by_init(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    result = flowledger("--db", str(empty), "runs")
    assert result.returncode == 1 and "is an empty file, not a flowledger ledger" in result.stderr
    assert result.stderr.count("\n") == 1 and empty.stat().st_size == 0
    assert flowledger("--db", str(empty), "init").returncode == 0
    assert flowledger("--db", str(empty), "runs").returncode == 0


def test_a_garbage_file_is_refused_with_one_line(tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    before = digest(garbage)
    result = flowledger("--db", str(garbage), "runs")
    assert result.returncode == 1 and result.stderr.startswith(f"Error: ledger {garbage} is corrupt or not a")
    assert result.stderr.count("\n") == 1 and digest(garbage) == before


def newer(ledger_path, change):
    recorder = Recorder(ledger_path)
    recorder.start_run(TransformSpec("wf"), reference="kept", reference_type="test")
    recorder.close()
    forget_ledgers()
    conn = sqlite3.connect(ledger_path)
    with conn:
        change(conn)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return digest(ledger_path)


@pytest.mark.parametrize(
    "change, found",
    [
        (
            lambda c: c.execute(
                "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                "VALUES ('flowledger', 'm999_from_the_future', 'later')"
            ),
            f"schema {len(migrations.steps) + 1} > {len(migrations.steps)}",
        ),
        (
            lambda c: c.execute("ALTER TABLE runs RENAME COLUMN status TO state"),
            "table runs (no column status) is not as this version knows it",
        ),
    ],
    ids=["unknown migration", "changed column"],
)
def test_a_ledger_of_a_newer_flowledger_is_refused_and_nothing_is_written(ledger_path, change, found):
    before = newer(ledger_path, change)
    result = flowledger("--db", str(ledger_path), "runs")
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: ledger {ledger_path} was written by a newer flowledger ({found}); "
        "upgrade flowledger (nothing was written)\n"
    )
    with pytest.raises(LedgerError, match="newer flowledger"):
        Recorder(ledger_path).start_run(TransformSpec("after"))
    assert digest(ledger_path) == before


def test_durability_is_a_setting(ledger_path, monkeypatch):
    assert Ledger(ledger_path).conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    monkeypatch.setenv("FLOWLEDGER_DURABILITY", "full")
    assert Ledger(ledger_path).conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    monkeypatch.setenv("FLOWLEDGER_DURABILITY", "sometimes")
    with pytest.raises(LedgerError, match="FLOWLEDGER_DURABILITY='sometimes': use 'normal' or 'full'"):
        Ledger(ledger_path)
