"""The ledger schema, as append-only sqlite-utils migrations (plugins add their own sets by hook).

Field names follow lamindb's registries (see DESIGN.md). Times are ISO 8601 strings in UTC, so they
sort as text. Tables are created with plain DDL because runs and artifacts refer to each other.
"""

from sqlite_utils.migrations import Migrations

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
        artifact_id INTEGER NOT NULL REFERENCES artifacts(id), PRIMARY KEY (collection_id, artifact_id)) WITHOUT ROWID""",
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
def m001_initial(db):
    for statement in SCHEMA_V1:
        db.execute(statement)
