"""The one API that plugins call to record runs, inputs and outputs: plugins write no SQL.

Every public method is one transaction. Files are hashed before the write lock is taken, so a large
output never blocks other writers. See core/docs/recorder-contract.md for the contract plugins rely on.
"""

import hashlib
import json as jsonlib
import os
from dataclasses import dataclass, field

from .errors import InputError
from .hashing import Content, Hasher, absolute
from .ids import new_uid, version_suffix
from .location import resolve_ledger_path
from .plugins import pm
from .storage import host, storage_root
from .store import Ledger
from .timestamps import now, to_iso
from .users import current_handle

FINAL_STATUSES = ("completed", "errored", "aborted", "cached")
STATUSES = ("scheduled", "started", *FINAL_STATUSES)


@dataclass(frozen=True)
class TransformSpec:
    """What is run. Without a version, the version is the hash of the source code."""

    name: str
    type: str = "pipeline"
    version: str | None = None
    source_code: str | None = None
    reference: str | None = None
    reference_type: str | None = None
    description: str | None = None


def source_hash(source_code: str | None) -> str | None:
    return hashlib.sha256(source_code.encode()).hexdigest() if source_code is not None else None


@dataclass
class _Prepared:
    """A job's files, hashed outside the write transaction."""

    inputs: list[Content] = field(default_factory=list)
    outputs: list[Content] = field(default_factory=list)
    logs: list[Content] = field(default_factory=list)
    environment: Content | None = None
    report: Content | None = None
    problems: dict[str, list[str]] = field(default_factory=dict)

    def cache_rows(self) -> list:
        everything = [*self.inputs, *self.outputs, *self.logs, self.environment, self.report]
        return [row for content in everything if content for row in content.new_cache_rows]


class Recorder:
    """Records into one ledger. Not for concurrent use from several threads (use one each)."""

    def __init__(self, db=None, *, ledger: Ledger | None = None):
        self.ledger = ledger or Ledger(resolve_ledger_path(db))
        self.hasher = Hasher(self.ledger)
        self._transform_ids: dict[TransformSpec, int] = {}
        self._user_ids: dict[str, int] = {}
        self._me: str | None = None  # the OS user, looked up once (getpass reads /etc/passwd without $USER)
        self._run_ids: dict[str, int] = {}
        self.ledger.on_rollback.append(self.forget)

    # ---- the contract -------------------------------------------------------------------------
    def start_run(self, transform: TransformSpec, *, reference=None, reference_type=None, initiated_by=None,
                  started_at=None, json=None, created_by=None, environment=None, environment_reference=None,
                  status="started", uid=None) -> str:
        prepared = self.prepare(environment=environment)
        with self.ledger.write() as conn:
            run_id, uid = self._insert_run(conn, transform, prepared, reference=reference,
                                           reference_type=reference_type, initiated_by=initiated_by,
                                           started_at=started_at, json=json, created_by=created_by,
                                           environment_reference=environment_reference, status=status, uid=uid)
            self._write_cache(conn, prepared)
        self._notify(run_id, [], started=True, finished=status in FINAL_STATUSES)
        return uid

    def finish_run(self, uid: str, *, status="completed", finished_at=None, exit_code=None, error=None,
                   json=None, report=None) -> None:
        prepared = self.prepare(report=report)
        with self.ledger.write() as conn:
            links = self._finish(conn, uid, prepared, status=status, finished_at=finished_at,
                                 exit_code=exit_code, error=error, json=json)
            self._write_cache(conn, prepared)
        self._notify(self._run_ids[uid], links, started=False, finished=True)

    def record_job(self, transform: TransformSpec, *, inputs=(), outputs=(), logs=(), initiated_by=None,
                   reference=None, reference_type=None, status="completed", started_at=None, finished_at=None,
                   json=None, exit_code=None, error=None, environment=None, environment_reference=None,
                   uid=None, created_by=None) -> str:
        prepared = self.prepare(inputs=inputs, outputs=outputs, logs=logs, environment=environment)
        with self.ledger.write() as conn:
            run_id, uid, links = self.write_job(
                conn, transform, prepared, initiated_by=initiated_by, reference=reference,
                reference_type=reference_type, status=status, started_at=started_at, finished_at=finished_at,
                json=json, exit_code=exit_code, error=error, environment_reference=environment_reference,
                uid=uid, created_by=created_by)
        self._notify(run_id, links, started=True, finished=status in FINAL_STATUSES)
        return uid

    def add_inputs(self, uid: str, paths) -> None:
        self._add_files(uid, self.prepare(inputs=paths))

    def add_outputs(self, uid: str, paths) -> None:
        self._add_files(uid, self.prepare(outputs=paths))

    def _add_files(self, uid: str, prepared: "_Prepared") -> None:
        with self.ledger.write() as conn:
            run_id = self.run_id(conn, uid)
            links = self._link(conn, run_id, prepared)
            self._write_cache(conn, prepared)
        self._notify(run_id, links, started=False, finished=False)

    def register_artifact(self, path, *, run_uid: str | None = None, description: str | None = None) -> int:
        """One file or folder: an output of run `run_uid` when given, else a raw input. Returns its id."""
        role = "output" if run_uid else "input"
        prepared = self.prepare(**{f"{role}s": [path]})
        if prepared.problems:
            raise InputError("; ".join(p for problems in prepared.problems.values() for p in problems))
        with self.ledger.write() as conn:
            run_id = self.run_id(conn, run_uid) if run_uid else None
            artifact_id, linked_as = self._artifact(conn, (prepared.outputs or prepared.inputs)[0], run_id, role)
            if description:
                conn.execute("UPDATE artifacts SET description = ? WHERE id = ?", (description, artifact_id))
            self._write_cache(conn, prepared)
        if run_id is not None:
            self._notify(run_id, [(artifact_id, linked_as)], started=False, finished=False)
        return artifact_id

    def batch(self):
        """Several calls in one transaction (one commit): `with recorder.batch(): ...`; all or nothing."""
        return self.ledger.write()

    def find_run(self, *, reference: str, reference_type: str) -> str | None:
        rows = self.ledger.query("SELECT uid FROM runs WHERE reference = ? AND reference_type = ? ORDER BY id DESC "
                                 "LIMIT 1", (reference, reference_type))
        return rows[0]["uid"] if rows else None

    def close(self) -> None:
        self.ledger.close()

    def forget(self) -> None:
        """Drop remembered ids (after a rolled-back transaction)."""
        self._transform_ids.clear()
        self._user_ids.clear()
        self._run_ids.clear()

    # ---- preparing (no lock held) -------------------------------------------------------------
    def prepare(self, *, inputs=(), outputs=(), logs=(), environment=None, report=None) -> _Prepared:
        prepared = _Prepared()
        prepared.inputs = self._contents(inputs, "missing_inputs", prepared)
        prepared.outputs = self._contents(outputs, "missing_outputs", prepared)
        prepared.logs = self._contents(logs, "missing_logs", prepared)
        if environment:
            found = self._contents([environment], "missing_environment", prepared)
            prepared.environment = found[0] if found else None
        if report:
            found = self._contents([report], "missing_report", prepared)
            prepared.report = found[0] if found else None
        return prepared

    def _contents(self, paths, problem_key: str, prepared: _Prepared) -> list[Content]:
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        found, seen = [], set()
        for path in paths:
            try:
                content = self.hasher.content(path)
            except InputError as problem:
                prepared.problems.setdefault(problem_key, []).append(str(problem))
                continue
            if content.path not in seen:
                seen.add(content.path)
                found.append(content)
        return found

    # ---- writing (inside a transaction) -------------------------------------------------------
    def write_job(self, conn, transform, prepared, *, initiated_by=None, reference=None, reference_type=None,
                  status="completed", started_at=None, finished_at=None, json=None, exit_code=None, error=None,
                  environment_reference=None, uid=None, created_by=None):
        """Insert a finished job with its files; the caller holds the transaction (for batching)."""
        if status in FINAL_STATUSES and finished_at is None:
            finished_at = now()
        run_id, uid = self._insert_run(
            conn, transform, prepared, reference=reference, reference_type=reference_type,
            initiated_by=initiated_by, started_at=started_at, finished_at=finished_at, json=json,
            created_by=created_by, environment_reference=environment_reference, status=status, uid=uid,
            exit_code=exit_code, error=error)
        links = self._link(conn, run_id, prepared)
        if prepared.logs:
            conn.execute("UPDATE runs SET report_id = ? WHERE id = ?", (links_first_log(links, prepared), run_id))
        self._write_cache(conn, prepared)
        return run_id, uid, links

    def _insert_run(self, conn, transform, prepared, *, reference, reference_type, initiated_by, started_at, json,
                    created_by, environment_reference, status, uid, finished_at=None, exit_code=None, error=None):
        if status not in STATUSES:
            raise InputError(f"{status!r} is not a run status (one of {', '.join(STATUSES)})")
        uid = uid or new_uid(16)
        data = dict(json or {})
        if prepared.problems:
            data.update(prepared.problems)
        environment_id = None
        if prepared.environment is not None:
            environment_id = self._artifact(conn, prepared.environment, None, "input")[0]
        elif environment_reference:
            environment_id = self._reference_artifact(conn, environment_reference)
        parent_id = self.run_id(conn, initiated_by) if initiated_by else None
        cursor = conn.execute(
            "INSERT INTO runs (uid, transform_id, started_at, finished_at, created_by_id, json, environment_id, "
            "reference, reference_type, created_at, initiated_by_run_id, status, exit_code, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (uid, transform if isinstance(transform, int) else self.transform_id(conn, transform), to_iso(started_at) or now(), to_iso(finished_at),
             self.user_id(conn, created_by), _dumps(data), environment_id, _text(reference), reference_type,
             now(), parent_id, status, exit_code, error))
        self._run_ids[uid] = cursor.lastrowid
        return cursor.lastrowid, uid

    def _finish(self, conn, uid, prepared, *, status, finished_at, exit_code, error, json):
        if status not in FINAL_STATUSES:
            raise InputError(f"{status!r} is not a final run status (one of {', '.join(FINAL_STATUSES)})")
        run_id = self.run_id(conn, uid)
        data = None
        if json or prepared.problems:
            row = conn.execute("SELECT json FROM runs WHERE id = ?", (run_id,)).fetchone()
            data = {**jsonlib.loads(row[0] or "{}"), **(json or {}), **prepared.problems}
        report_id = None
        links = []
        if prepared.report is not None:
            report_id, role = self._artifact(conn, prepared.report, run_id, "output")
            links.append((report_id, role))
        conn.execute(
            "UPDATE runs SET status = ?, finished_at = ?, exit_code = coalesce(?, exit_code), "
            "error = coalesce(?, error), json = coalesce(?, json), report_id = coalesce(?, report_id) WHERE id = ?",
            (status, to_iso(finished_at) or now(), exit_code, error, _dumps(data) if data is not None else None,
             report_id, run_id))
        return links

    def _link(self, conn, run_id: int, prepared: _Prepared) -> list[tuple[int, str]]:
        links = []
        input_ids = set()
        for content in prepared.inputs:
            artifact_id, _ = self._artifact(conn, content, None, "input")
            conn.execute("INSERT OR IGNORE INTO run_inputs (run_id, artifact_id) VALUES (?, ?)", (run_id, artifact_id))
            input_ids.add(artifact_id)
            links.append((artifact_id, "input"))
        for content in (*prepared.outputs, *prepared.logs):
            links.append(self._artifact(conn, content, run_id, "output", input_ids))
        return links

    def _artifact(self, conn, content: Content, run_id, role: str, input_ids=frozenset()) -> tuple[int, str]:
        """The artifact for this content at this path: reused, claimed, replicated, or a new version."""
        latest = conn.execute("SELECT id, uid, hash, run_id, version FROM artifacts WHERE path = ? AND is_latest = 1",
                              (content.path,)).fetchone()
        if latest and latest[2] == content.hash:
            artifact_id, _, _, maker, _ = latest
            if role == "input" or maker == run_id:
                return artifact_id, role
            if maker is None and artifact_id not in input_ids:
                # known, but made by no run yet (registered by hand, or its reader was recorded first): ours
                conn.execute("UPDATE artifacts SET run_id = ? WHERE id = ?", (run_id, artifact_id))
                return artifact_id, "output"
            conn.execute("INSERT OR IGNORE INTO run_replicated_artifacts (run_id, artifact_id) VALUES (?, ?)",
                         (run_id, artifact_id))
            return artifact_id, "replicated"
        version, stem = 1, new_uid(16)
        if latest:
            conn.execute("UPDATE artifacts SET is_latest = 0 WHERE id = ?", (latest[0],))
            version, stem = latest[4] + 1, latest[1][:16]
        suffix = "".join(os.path.splitext(content.path)[1:]) if content.kind == "file" else ""
        cursor = conn.execute(
            "INSERT INTO artifacts (uid, path, kind, storage_host, storage_root, suffix, size, hash, hash_type, "
            "version, is_latest, run_id, created_by_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
            (stem + version_suffix(version), content.path, content.kind, host(),
             storage_root(os.path.dirname(content.path)), suffix, content.size, content.hash, content.hash_type,
             version, run_id if role == "output" else None, self.user_id(conn, None), now()))
        return cursor.lastrowid, role

    def _reference_artifact(self, conn, reference: str) -> int:
        """An environment given by reference (a container image): an artifact whose path is the reference."""
        content = Content(reference, "reference", len(reference), hashlib.sha256(reference.encode()).hexdigest(),
                          "sha256-text")
        latest = conn.execute("SELECT id FROM artifacts WHERE path = ? AND is_latest = 1 AND hash = ?",
                              (reference, content.hash)).fetchone()
        if latest:
            return latest[0]
        cursor = conn.execute(
            "INSERT INTO artifacts (uid, path, kind, size, hash, hash_type, version, is_latest, created_by_id, "
            "created_at) VALUES (?, ?, 'reference', ?, ?, ?, 1, 1, ?, ?)",
            (new_uid(16) + version_suffix(1), reference, content.size, content.hash, content.hash_type,
             self.user_id(conn, None), now()))
        return cursor.lastrowid

    def _write_cache(self, conn, prepared: _Prepared) -> None:
        rows = prepared.cache_rows()
        if rows:
            conn.executemany("INSERT OR REPLACE INTO hash_cache (path, size, mtime_ns, inode, hash, hash_type) "
                             "VALUES (?, ?, ?, ?, ?, ?)", rows)

    # ---- lookups that remember ----------------------------------------------------------------
    def run_id(self, conn, uid: str) -> int:
        if uid not in self._run_ids:
            row = conn.execute("SELECT id FROM runs WHERE uid = ?", (uid,)).fetchone()
            if row is None:
                raise InputError(f"no run with uid {uid!r} in ledger {self.ledger.path}")
            self._run_ids[uid] = row[0]
        return self._run_ids[uid]

    def transform_id(self, conn, spec: TransformSpec) -> int:
        if spec not in self._transform_ids:
            self._transform_ids[spec] = ensure_transform(conn, spec, self.user_id(conn, None))
        return self._transform_ids[spec]

    def user_id(self, conn, handle: str | None) -> int:
        if not handle:
            handle = self._me = self._me or current_handle()
        if handle not in self._user_ids:
            conn.execute("INSERT OR IGNORE INTO users (uid, handle, created_at) VALUES (?, ?, ?)",
                         (new_uid(8), handle, now()))
            self._user_ids[handle] = conn.execute("SELECT id FROM users WHERE handle = ?", (handle,)).fetchone()[0]
        return self._user_ids[handle]

    # ---- telling plugins ----------------------------------------------------------------------
    def _notify(self, run_id: int, links: list[tuple[int, str]], *, started: bool, finished: bool) -> None:
        hooks = pm.hook
        if not (hooks.run_started.get_hookimpls() or hooks.run_finished.get_hookimpls()
                or hooks.artifact_recorded.get_hookimpls()):
            return  # nobody listens: skip building records on the hot path
        from .models import Artifact, Run

        run = Run.using(self.ledger).filter(id=run_id).one()
        if started:
            hooks.run_started(run=run)
        for artifact_id, role in links:
            artifact = Artifact.using(self.ledger).filter(id=artifact_id).one()
            hooks.artifact_recorded(artifact=artifact, run=run, role=role)
        if finished:
            hooks.run_finished(run=run)


def links_first_log(links, prepared: _Prepared) -> int:
    """The artifact id of the job's first log file (logs are linked after the outputs)."""
    return links[len(prepared.inputs) + len(prepared.outputs)][0]


def ensure_transform(conn, spec: TransformSpec, user_id: int) -> int:
    """The id of the Transform (name, version), inserting it once."""
    digest = source_hash(spec.source_code)
    version = spec.version if spec.version is not None else (digest[:12] if digest else None)
    row = conn.execute("SELECT id FROM transforms WHERE name = ? AND ifnull(version, '') = ifnull(?, '')",
                       (spec.name, version)).fetchone()
    if row:
        return row[0]
    family = conn.execute("SELECT uid FROM transforms WHERE name = ? AND type = ? ORDER BY id",
                          (spec.name, spec.type)).fetchall()
    stem = family[0][0][:12] if family else new_uid(12)
    cursor = conn.execute(
        "INSERT INTO transforms (uid, name, version, type, description, reference, reference_type, source_code, "
        "hash, created_by_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (stem + version_suffix(len(family) + 1), spec.name, version, spec.type, spec.description, spec.reference,
         spec.reference_type, spec.source_code, digest, user_id, now()))
    return cursor.lastrowid


def _dumps(data: dict) -> str:
    return jsonlib.dumps(data, default=str, sort_keys=True)


def _text(value) -> str | None:
    return None if value is None else str(value)


def recorder_for(ledger: Ledger) -> Recorder:
    """The recorder the model API uses for `ledger` (one per ledger connection)."""
    recorder = getattr(ledger, "_recorder", None)
    if recorder is None:
        recorder = ledger._recorder = Recorder(ledger=ledger)
    return recorder


__all__ = ["Recorder", "TransformSpec", "FINAL_STATUSES", "STATUSES", "absolute", "recorder_for"]
