"""The ledger schema, as append-only migrations; plugins add their own sets through a hook.

`Migrations` has sqlite-utils' shape (`migrations = Migrations("name")`, `@migrations()` on `mNNN_what`
functions) and records what it applied in the same `_sqlite_migrations` table, so `sqlite-utils migrate
--list` reads a ledger too. It is ours because opening a ledger must stay cheap: checking for pending
migrations is one SELECT, where sqlite-utils would be imported (~100 ms) on every start. A plugin may
still register a `sqlite_utils.migrations.Migrations` set; it is applied with sqlite-utils.

Field names follow lamindb's registries. Times are ISO 8601 strings in UTC, so they sort as text. Tables
are created with plain DDL because runs and artifacts refer to each other.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

TABLE = "_sqlite_migrations"
Conn = Any  # a sqlite3.Connection, or a PostgreSQL ledger's `postgres.Connection` (the same execute())
Step = Callable[[Conn], None]


class Migrations:
    """A named, ordered set of schema changes; each runs once per ledger, in a transaction with its record."""

    def __init__(self, name: str):
        self.name = name
        self.steps: list[tuple[str, Step]] = []

    def __call__(self, *, name: str | None = None) -> Callable[[Step], Step]:
        def register(step: Step) -> Step:
            self.steps.append((name or step.__name__, step))
            return step

        return register

    def pending(self, conn: Conn) -> list[str]:
        done = applied(conn).get(self.name, set())
        return [name for name, _ in self.steps if name not in done]

    def apply(self, conn: Conn) -> None:
        """Run the pending steps; the caller holds the ledger's file lock, so one process migrates."""
        _ensure_table(conn)
        for name, step in self.steps:
            if name not in self.pending(conn):
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                step(conn)
                conn.execute(
                    f"INSERT INTO {TABLE} (migration_set, name, applied_at) VALUES (?, ?, ?)",
                    (self.name, name, str(datetime.now(UTC))),
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


def applied(conn: Conn) -> dict[str, set[str]]:
    """{migration set: names applied} of the ledger on `conn`."""
    if not has_table(conn, TABLE):
        return {}
    found: dict[str, set[str]] = {}
    for migration_set, name in conn.execute(f"SELECT migration_set, name FROM {TABLE}"):
        found.setdefault(migration_set, set()).add(name)
    return found


def check_schema_known(conn: Conn, path: object) -> None:
    """Refuse a ledger that a newer flowledger migrated: its schema could mean what this version cannot know."""
    from .errors import LedgerError

    done = applied(conn).get(migrations.name, set())
    known = {name for name, _ in migrations.steps}
    unknown = done - known
    missing = _missing_columns(conn) if done >= known else []
    if unknown or missing:
        found = f"schema {len(done)} > {len(known)}" if unknown else f"{missing[0]} is not as this version knows it"
        raise LedgerError(
            f"ledger {path} was written by a newer flowledger ({found}); upgrade flowledger (nothing was written)"
        )


@functools.cache
def expected_columns() -> dict[str, frozenset[str]]:
    """{table: columns} of the schema these migrations make, built once in memory."""
    conn = sqlite3.connect(":memory:")
    for _, step in migrations.steps:
        step(conn)
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {table: frozenset(row[1] for row in conn.execute(f"PRAGMA table_info([{table}])")) for table in tables}


def _missing_columns(conn: Conn) -> list[str]:
    problems = []
    for table, columns in expected_columns().items():
        present = table_columns(conn, table)
        if not present:  # a lost table is damage, not a newer schema: writes to it fail on their own
            continue
        problems += [f"table {table} (no column {column})" for column in sorted(columns - present)]
    return problems


def has_table(conn, name: str) -> bool:
    """Does the ledger on `conn` (SQLite's, or the PostgreSQL adapter) have this table?"""
    if not isinstance(conn, sqlite3.Connection):
        return conn.has_table(name)
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def table_columns(conn, table: str) -> set[str]:
    if not isinstance(conn, sqlite3.Connection):
        return conn.table_columns(table)
    return {row[1] for row in conn.execute(f"PRAGMA table_info([{table}])")}


def _ensure_table(conn: Conn) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS [{TABLE}] ([id] INTEGER PRIMARY KEY, [migration_set] TEXT, "
        "[name] TEXT, [applied_at] TEXT)"
    )
    conn.execute(
        f"CREATE UNIQUE INDEX IF NOT EXISTS [idx_{TABLE}_migration_set_name] ON [{TABLE}] ([migration_set], [name])"
    )


migrations = Migrations("flowledger")

SCHEMA_V1 = [
    """CREATE TABLE users (
        id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, handle TEXT NOT NULL UNIQUE, name TEXT,
        created_at TEXT NOT NULL)""",
    """CREATE TABLE transforms (
        id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, name TEXT NOT NULL, version TEXT,
        type TEXT NOT NULL DEFAULT 'pipeline', description TEXT, reference TEXT, reference_type TEXT,
        source_code TEXT, hash TEXT, created_by_id INTEGER REFERENCES users(id), created_at TEXT NOT NULL)""",
    "CREATE UNIQUE INDEX idx_transforms_name_version ON transforms(name, ifnull(version, ''))",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE,
        transform_id INTEGER NOT NULL REFERENCES transforms(id),
        started_at TEXT, finished_at TEXT, created_by_id INTEGER REFERENCES users(id), json TEXT,
        report_id INTEGER REFERENCES artifacts(id), environment_id INTEGER REFERENCES artifacts(id),
        is_consecutive INTEGER, reference TEXT, reference_type TEXT, created_at TEXT NOT NULL,
        initiated_by_run_id INTEGER REFERENCES runs(id), status TEXT NOT NULL DEFAULT 'started',
        exit_code INTEGER, error TEXT)""",
    "CREATE INDEX idx_runs_reference ON runs(reference_type, reference)",
    "CREATE INDEX idx_runs_transform ON runs(transform_id)",
    "CREATE INDEX idx_runs_parent ON runs(initiated_by_run_id)",
    """CREATE TABLE artifacts (
        id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, path TEXT NOT NULL, kind TEXT NOT NULL DEFAULT 'file',
        storage_host TEXT, storage_root TEXT, suffix TEXT, size INTEGER, hash TEXT, hash_type TEXT,
        version INTEGER NOT NULL DEFAULT 1, is_latest INTEGER NOT NULL DEFAULT 1, description TEXT,
        run_id INTEGER REFERENCES runs(id), created_by_id INTEGER REFERENCES users(id), created_at TEXT NOT NULL)""",
    "CREATE INDEX idx_artifacts_path ON artifacts(path, is_latest)",
    "CREATE INDEX idx_artifacts_run ON artifacts(run_id)",
    "CREATE INDEX idx_artifacts_hash ON artifacts(hash)",
    """CREATE TABLE run_inputs (
        run_id INTEGER NOT NULL REFERENCES runs(id), artifact_id INTEGER NOT NULL REFERENCES artifacts(id),
        PRIMARY KEY (run_id, artifact_id)) WITHOUT ROWID""",
    "CREATE INDEX idx_run_inputs_artifact ON run_inputs(artifact_id)",
    """CREATE TABLE run_replicated_artifacts (
        run_id INTEGER NOT NULL REFERENCES runs(id), artifact_id INTEGER NOT NULL REFERENCES artifacts(id),
        PRIMARY KEY (run_id, artifact_id)) WITHOUT ROWID""",
    """CREATE TABLE collections (
        id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, name TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,
        is_latest INTEGER NOT NULL DEFAULT 1, description TEXT, hash TEXT, run_id INTEGER REFERENCES runs(id),
        created_by_id INTEGER REFERENCES users(id), created_at TEXT NOT NULL)""",
    """CREATE TABLE collection_artifacts (
        collection_id INTEGER NOT NULL REFERENCES collections(id),
        artifact_id INTEGER NOT NULL REFERENCES artifacts(id),
        PRIMARY KEY (collection_id, artifact_id)) WITHOUT ROWID""",
    """CREATE TABLE run_input_collections (
        run_id INTEGER NOT NULL REFERENCES runs(id), collection_id INTEGER NOT NULL REFERENCES collections(id),
        PRIMARY KEY (run_id, collection_id)) WITHOUT ROWID""",
    """CREATE TABLE run_replicated_collections (
        run_id INTEGER NOT NULL REFERENCES runs(id), collection_id INTEGER NOT NULL REFERENCES collections(id),
        PRIMARY KEY (run_id, collection_id)) WITHOUT ROWID""",
    """CREATE TABLE hash_cache (
        path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL,
        hash TEXT NOT NULL, hash_type TEXT NOT NULL)""",
]


@migrations()
def m001_initial(conn: Conn) -> None:
    if isinstance(conn, sqlite3.Connection):
        for statement in SCHEMA_V1:
            conn.execute(statement)
        return
    for statement in forward_references_last(SCHEMA_V1):  # PostgreSQL checks each reference at once
        conn.execute(statement)


def forward_references_last(statements: list[str]) -> list[str]:
    """The statements with each reference to a table not made yet moved to an ALTER TABLE after it is made
    (runs and artifacts refer to each other; SQLite checks references only when rows are written)."""
    made: set[str] = set()
    ordered, waiting = [], []
    for statement in statements:
        table = re.match(r"\s*CREATE TABLE (\w+)", statement)
        if table:
            name = table.group(1)
            for column, target in re.findall(r"(\w+) INTEGER REFERENCES (\w+)\(id\)", statement):
                if target not in made and target != name:
                    statement = statement.replace(f"{column} INTEGER REFERENCES {target}(id)", f"{column} INTEGER")
                    waiting.append((target, f"ALTER TABLE {name} ADD FOREIGN KEY ({column}) REFERENCES {target}(id)"))
            made.add(name)
        ordered.append(statement)
        ordered += [alter for target, alter in waiting if target in made]
        waiting = [(target, alter) for target, alter in waiting if target not in made]
    return ordered


@migrations()
def m002_run_process(conn: Conn) -> None:
    """Who records a run (host, pid, process start): a started run whose process is gone is unfinished."""
    for column in ("host TEXT", "pid INTEGER", "pid_start INTEGER"):
        conn.execute(f"ALTER TABLE runs ADD COLUMN {column}")


@migrations()
def m003_artifact_state_and_user_path(conn: Conn) -> None:
    """`state` 'deleted': the file was gone when recorded; `user_path`: the path as given, through a link."""
    conn.execute("ALTER TABLE artifacts ADD COLUMN state TEXT")
    conn.execute("ALTER TABLE artifacts ADD COLUMN user_path TEXT")
    conn.execute("CREATE INDEX idx_artifacts_user_path ON artifacts(user_path) WHERE user_path IS NOT NULL")
