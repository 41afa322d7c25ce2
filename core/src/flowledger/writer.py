"""The one writer: every INSERT and UPDATE of the ledger lives here (as llm keeps its writes in LogStore).

Each method runs inside a transaction its caller holds (`with ledger.write() as conn:`) and returns what
it wrote, so the caller can announce it. The SQL is the subset SQLite and PostgreSQL share (`ON CONFLICT`,
`RETURNING`, `coalesce`); what differs between stores (placeholders, locking) is the store's business.
"""

from __future__ import annotations

import hashlib
import json as jsonlib
import os
from dataclasses import dataclass, field
from typing import Any

from .contract import FINAL_STATUSES, RunStatus, TransformSpec, run_status
from .errors import InputError
from .hashing import Content, Prepared
from .identity import current_handle, this_process
from .ids import new_uid, version_suffix
from .mounts import storage_of
from .paths import host
from .timestamps import now, to_iso

Link = tuple[int, str]  # (artifact id, role): "input", "output" or "replicated"
Transaction = Any  # the connection of the open write transaction (`with ledger.write() as conn`)

# Columns of a saved run that `Run.save()` may change.
RUN_UPDATABLE = (
    "started_at",
    "finished_at",
    "json",
    "is_consecutive",
    "reference",
    "reference_type",
    "status",
    "exit_code",
    "error",
    "report_id",
    "environment_id",
    "initiated_by_run_id",
)


@dataclass
class Written:
    """What one call wrote for one run: the hooks announce it after the commit."""

    run_id: int
    uid: str
    links: list[Link] = field(default_factory=list)
    started: bool = False
    finished: bool = False
    row: dict[str, Any] | None = None  # the run's row, when it was inserted


class Writer:
    """Writes into one ledger, remembering ids it has looked up (forgotten after a rollback)."""

    def __init__(self, ledger_path: str):
        self.ledger_path = ledger_path
        self._transform_ids: dict[TransformSpec, int] = {}
        self._user_ids: dict[str, int] = {}
        self._run_ids: dict[str, int] = {}
        self._me: str | None = None  # the OS user, looked up once (getpass reads /etc/passwd without $USER)

    def forget(self) -> None:
        """Drop remembered ids (after a rolled-back transaction)."""
        self._transform_ids.clear()
        self._user_ids.clear()
        self._run_ids.clear()

    # ---- runs ---------------------------------------------------------------------------------
    def insert_run(
        self,
        conn,
        transform: TransformSpec | int,
        prepared: Prepared,
        *,
        reference=None,
        reference_type=None,
        initiated_by: str | None = None,
        started_at=None,
        finished_at=None,
        json=None,
        created_by: str | None = None,
        environment_reference: str | None = None,
        status: RunStatus | str = RunStatus.STARTED,
        uid: str | None = None,
        exit_code: int | None = None,
        error: str | None = None,
    ) -> Written:
        """A new run; with its files when `prepared` holds any (a whole job in one go)."""
        status = run_status(status)
        uid = uid or new_uid(16)
        data = {**(json or {}), **prepared.problems}
        environment_id = None
        if prepared.environment is not None:
            environment_id = self.artifact(conn, prepared.environment, None, "input")[0]
        elif environment_reference:
            environment_id = self._reference_artifact(conn, environment_reference)
        transform_id = transform if isinstance(transform, int) else self.transform_id(conn, transform)
        started, finished = to_iso(started_at) or now(), to_iso(finished_at)
        if finished is None and status in FINAL_STATUSES:
            finished = max(now(), started)  # ended now (a start given in the future ends when it starts)
        _check_order(uid, started, finished)
        pid, pid_start = this_process()
        cursor = conn.execute(
            "INSERT INTO runs (uid, transform_id, started_at, finished_at, created_by_id, json, environment_id, "
            "reference, reference_type, created_at, initiated_by_run_id, status, exit_code, error, host, pid, "
            "pid_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (
                uid,
                transform_id,
                started,
                finished,
                self.user_id(conn, created_by),
                _dumps(data),
                environment_id,
                _text(reference),
                reference_type,
                now(),
                self.run_id(conn, initiated_by) if initiated_by else None,
                status.value,
                exit_code,
                error,
                host(),
                pid,
                pid_start,
            ),
        )
        row = dict(zip([column[0] for column in cursor.description], cursor.fetchone()))
        run_id = row["id"]
        self._run_ids[uid] = run_id
        written = Written(run_id, uid, started=True, finished=status in FINAL_STATUSES, row=row)
        written.links = self.link_files(conn, run_id, prepared)
        self.write_cache(conn, prepared)
        return written

    def finish_run(
        self,
        conn,
        uid: str,
        prepared: Prepared,
        *,
        status: RunStatus | str = RunStatus.COMPLETED,
        finished_at=None,
        exit_code: int | None = None,
        error: str | None = None,
        json=None,
    ) -> Written:
        """A final status for run `uid`; `json` and any file problems are merged into its json."""
        status = run_status(status, final=True)
        run_id = self.run_id(conn, uid)
        row = conn.execute("SELECT json, started_at FROM runs WHERE id = ?", (run_id,)).fetchone()
        finished = to_iso(finished_at) or now()
        if finished_at is not None:
            _check_order(uid, row[1], finished)
        data = None
        if json or prepared.problems:
            data = {**jsonlib.loads(row[0] or "{}"), **(json or {}), **prepared.problems}
        written = Written(run_id, uid, finished=True)
        report_id = None
        if prepared.report is not None:
            report_id, role = self.artifact(conn, prepared.report, run_id, "output")
            written.links.append((report_id, role))
        conn.execute(
            "UPDATE runs SET status = ?, finished_at = ?, exit_code = coalesce(?, exit_code), "
            "error = coalesce(?, error), json = coalesce(?, json), report_id = coalesce(?, report_id) WHERE id = ?",
            (
                status.value,
                finished,
                exit_code,
                error,
                _dumps(data) if data is not None else None,
                report_id,
                run_id,
            ),
        )
        self.write_cache(conn, prepared)
        return written

    def add_files(self, conn, uid: str, prepared: Prepared) -> Written:
        """More inputs or outputs of run `uid`; paths that could not be read are added to its json's lists."""
        run_id = self.run_id(conn, uid)
        written = Written(run_id, uid, links=self.link_files(conn, run_id, prepared))
        if prepared.problems:
            data = jsonlib.loads(conn.execute("SELECT json FROM runs WHERE id = ?", (run_id,)).fetchone()[0] or "{}")
            for key, problems in prepared.problems.items():
                data[key] = [*data.get(key, []), *problems]
            conn.execute("UPDATE runs SET json = ? WHERE id = ?", (_dumps(data), run_id))
        self.write_cache(conn, prepared)
        return written

    def update_run(
        self, conn, run_id: int, fields: dict[str, Any], was: str | None = None, uid: str | None = None
    ) -> str:
        """Write changed fields of a saved run (`Run.save()`); returns its status before the change (`was`,
        when the caller knows it)."""
        unknown = set(fields) - set(RUN_UPDATABLE)
        if unknown:
            raise InputError(f"run fields {', '.join(sorted(unknown))} cannot be changed")
        values = dict(fields)
        if "status" in values:
            values["status"] = run_status(values["status"]).value
        for name in ("started_at", "finished_at"):
            if name in values:
                values[name] = to_iso(values[name])
        if values.get("started_at") and values.get("finished_at"):
            uid = uid or conn.execute("SELECT uid FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
            _check_order(uid, values["started_at"], values["finished_at"])
        if "json" in values and not isinstance(values["json"], (str, type(None))):
            values["json"] = _dumps(values["json"])
        if was is None:
            was = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
        if values:
            assignments = ", ".join(f"{name} = ?" for name in values)
            conn.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*values.values(), run_id))
        return was

    # ---- files ---------------------------------------------------------------------------------
    def link_files(self, conn, run_id: int, prepared: Prepared) -> list[Link]:
        """Inputs as `run_inputs`, outputs and logs as artifacts this run made (or replicated)."""
        links: list[Link] = []
        input_ids = set()
        everything = [*prepared.inputs, *prepared.outputs, *prepared.logs]
        known = self.latest_versions(conn, everything) if len(everything) > 1 else None
        for content in prepared.inputs:
            artifact_id, _ = self.artifact(conn, content, None, "input", known=known)
            input_ids.add(artifact_id)
            links.append((artifact_id, "input"))
        if input_ids:  # (one statement for all: on a server, one round trip)
            conn.executemany(
                "INSERT INTO run_inputs (run_id, artifact_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(run_id, artifact_id) for artifact_id, _ in links],
            )
        for content in prepared.outputs:
            links.append(self.artifact(conn, content, run_id, "output", input_ids, known))
        log_links = [self.artifact(conn, content, run_id, "output", input_ids, known) for content in prepared.logs]
        if log_links:  # the first log is the run's report
            conn.execute("UPDATE runs SET report_id = ? WHERE id = ?", (log_links[0][0], run_id))
        return links + log_links

    def latest_versions(self, conn, contents: list[Content]) -> dict[str, tuple | None]:
        """{path: its latest version here (id, uid, hash, run_id, version), or None} for several files, in one
        query (on a server, one round trip instead of one per file)."""
        found: dict[str, tuple | None] = {content.path: None for content in contents}
        paths = list(found)
        for start in range(0, len(paths), 500):
            chunk = paths[start : start + 500]
            rows = conn.execute(
                "SELECT id, uid, hash, run_id, version, path, storage_host FROM artifacts "
                f"WHERE path IN ({', '.join('?' * len(chunk))}) AND is_latest = 1",
                chunk,
            ).fetchall()
            for row in rows:  # the same path on another host's own disk is another file
                if row[6] is None or row[6] == storage_of(row[5]).host:
                    found[row[5]] = tuple(row[:5])
        return found

    def artifact(
        self, conn, content: Content, run_id: int | None, role: str, input_ids=frozenset(), known: dict | None = None
    ) -> Link:
        """The artifact for this content at this path: reused, claimed, replicated, or a new version.

        `known`: the latest versions of the call's files, read beforehand (`latest_versions`); a path used
        is taken out of it, so that a path met again (read and written) is looked up afresh.
        """
        storage = storage_of(content.path)
        if known is not None and content.path in known:
            latest = known.pop(content.path)
        else:
            latest = conn.execute(
                "SELECT id, uid, hash, run_id, version FROM artifacts WHERE path = ? AND is_latest = 1 "
                "AND coalesce(storage_host, ?) = ?",
                (content.path, storage.host, storage.host),
            ).fetchone()
        if latest and (latest[2] == content.hash or (content.gone and content.hash is None)):
            # the same bytes (or a gone file nothing more is known of: its latest record)
            artifact_id, maker = latest[0], latest[3]
            if content.gone:
                conn.execute("UPDATE artifacts SET state = 'deleted' WHERE id = ? AND state IS NULL", (artifact_id,))
            if role == "input" or maker == run_id:
                return artifact_id, role
            if maker is None and artifact_id not in input_ids:
                # known, but made by no run yet (registered by hand, or its reader was recorded first): ours
                conn.execute("UPDATE artifacts SET run_id = ? WHERE id = ?", (run_id, artifact_id))
                return artifact_id, "output"
            conn.execute(
                "INSERT INTO run_replicated_artifacts (run_id, artifact_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (run_id, artifact_id),
            )
            return artifact_id, "replicated"
        uid = self._next_version(conn, "artifacts", latest)
        suffix = "".join(os.path.splitext(content.path)[1:]) if content.kind == "file" else ""
        artifact_id = conn.execute(
            "INSERT INTO artifacts (uid, path, kind, storage_host, storage_root, suffix, size, hash, hash_type, "
            "version, is_latest, run_id, created_by_id, created_at, state, user_path) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?) RETURNING id",
            (
                uid,
                content.path,
                content.kind,
                storage.host,
                storage.root,
                suffix,
                content.size,
                content.hash,
                content.hash_type,
                _version(latest),
                run_id if role == "output" else None,
                self.user_id(conn, None),
                now(),
                "deleted" if content.gone else None,
                content.user_path,
            ),
        ).fetchone()[0]
        return artifact_id, role

    def describe_artifact(self, conn, artifact_id: int, description: str) -> None:
        conn.execute("UPDATE artifacts SET description = ? WHERE id = ?", (description, artifact_id))

    def _reference_artifact(self, conn, reference: str) -> int:
        """An environment given by reference (a container image): an artifact whose path is the reference."""
        digest = hashlib.sha256(reference.encode()).hexdigest()
        latest = conn.execute(
            "SELECT id FROM artifacts WHERE path = ? AND is_latest = 1 AND hash = ?", (reference, digest)
        ).fetchone()
        if latest:
            return latest[0]
        return conn.execute(
            "INSERT INTO artifacts (uid, path, kind, size, hash, hash_type, version, is_latest, created_by_id, "
            "created_at) VALUES (?, ?, 'reference', ?, ?, 'sha256-text', 1, 1, ?, ?) RETURNING id",
            (new_uid(16) + version_suffix(1), reference, len(reference), digest, self.user_id(conn, None), now()),
        ).fetchone()[0]

    def write_cache(self, conn, prepared: Prepared) -> None:
        rows = prepared.cache_rows()
        if rows:
            conn.executemany(
                "INSERT INTO hash_cache (path, size, mtime_ns, inode, hash, hash_type) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
                "inode = excluded.inode, hash = excluded.hash, hash_type = excluded.hash_type",
                rows,
            )

    # ---- collections ---------------------------------------------------------------------------
    def save_collection(
        self, conn, name: str, member_ids: list[int], digest: str, *, run_id: int | None, description: str | None
    ) -> int:
        """Same name and members: the existing collection (replicated when another run made it); else a version."""
        latest = conn.execute(
            "SELECT id, uid, hash, run_id, version FROM collections WHERE name = ? AND is_latest = 1", (name,)
        ).fetchone()
        if latest and latest[2] == digest:
            if run_id and latest[3] != run_id:
                conn.execute(
                    "INSERT INTO run_replicated_collections (run_id, collection_id) VALUES (?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (run_id, latest[0]),
                )
            return latest[0]
        uid = self._next_version(conn, "collections", latest)
        collection_id = conn.execute(
            "INSERT INTO collections (uid, name, version, is_latest, description, hash, run_id, created_by_id, "
            "created_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?) RETURNING id",
            (uid, name, _version(latest), description, digest, run_id, self.user_id(conn, None), now()),
        ).fetchone()[0]
        conn.executemany(
            "INSERT INTO collection_artifacts (collection_id, artifact_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(collection_id, member) for member in member_ids],
        )
        return collection_id

    @staticmethod
    def _next_version(conn, table: str, latest) -> str:
        """Retire the latest version (a row `id, uid, ...`) and return the uid of the next one.

        Versions of one path (or name) share the first 16 uid characters; the last 4 count the version.
        """
        if latest is None:
            return new_uid(16) + version_suffix(1)
        conn.execute(f"UPDATE {table} SET is_latest = 0 WHERE id = ?", (latest[0],))
        return latest[1][:16] + version_suffix(latest[4] + 1)

    # ---- transforms and users ------------------------------------------------------------------
    def transform_id(self, conn, spec: TransformSpec) -> int:
        """The id of the Transform (name, version), inserted once; versions of a name share a uid stem."""
        if spec not in self._transform_ids:
            digest = spec.source_hash
            version = spec.version if spec.version is not None else (digest[:12] if digest else None)
            row = conn.execute(
                "SELECT id FROM transforms WHERE name = ? AND coalesce(version, '') = coalesce(?, '')",
                (spec.name, version),
            ).fetchone()
            if row is None:
                family = conn.execute(
                    "SELECT uid FROM transforms WHERE name = ? AND type = ? ORDER BY id", (spec.name, spec.type)
                ).fetchall()
                stem = family[0][0][:12] if family else new_uid(12)
                row = conn.execute(
                    "INSERT INTO transforms (uid, name, version, type, description, reference, reference_type, "
                    "source_code, hash, created_by_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "RETURNING id",
                    (
                        stem + version_suffix(len(family) + 1),
                        spec.name,
                        version,
                        spec.type,
                        spec.description,
                        spec.reference,
                        spec.reference_type,
                        spec.source_code,
                        digest,
                        self.user_id(conn, None),
                        now(),
                    ),
                ).fetchone()
            self._transform_ids[spec] = row[0]
        return self._transform_ids[spec]

    def user_id(self, conn, handle: str | None) -> int:
        if not handle:
            handle = self._me = self._me or current_handle()
        if handle not in self._user_ids:
            conn.execute(
                "INSERT INTO users (uid, handle, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (new_uid(8), handle, now()),
            )
            self._user_ids[handle] = conn.execute("SELECT id FROM users WHERE handle = ?", (handle,)).fetchone()[0]
        return self._user_ids[handle]

    def run_id(self, conn, uid: str) -> int:
        if uid not in self._run_ids:
            row = conn.execute("SELECT id FROM runs WHERE uid = ?", (uid,)).fetchone()
            if row is None:
                raise InputError(f"no run with uid {uid!r} in ledger {self.ledger_path}")
            self._run_ids[uid] = row[0]
        return self._run_ids[uid]


def _check_order(uid: str, started: str | None, finished: str | None) -> None:
    """A run cannot end before it began (both are ISO strings in UTC, so they compare as text)."""
    if started and finished and finished < started:
        raise InputError(f"run {uid}: finished_at {finished} is before started_at {started}")


def _version(latest) -> int:
    return latest[4] + 1 if latest else 1


def _dumps(data) -> str:
    return jsonlib.dumps(data, default=str, sort_keys=True)


def _text(value) -> str | None:
    return None if value is None else str(value)
