"""The synchronous recorder: hash outside the lock, write through the one writer, then announce.

Every call is one transaction (or joins the one `batch()` holds). Files are hashed before the write lock
is taken, so a large output never blocks other writers. Plugins usually take the `BackgroundRecorder`
instead (`flowledger.plugin_api.open_recorder`), which queues these same calls off the pipeline's thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence

from .announce import announce
from .calls import CallRecorder
from .contract import AddFiles, Call, FinishRun, PathLike, RecordJob, RunInfo, RunStatus, StartRun, TransformSpec
from .errors import InputError, ServerUnreachable
from .hashing import Hasher, Prepared
from .location import ServerLedger, resolve_ledger_path
from .store import Ledger, open_ledger, spool_ledger
from .timestamps import now
from .writer import Transaction, Writer, Written

# files hashed at once, when a batch holds several large ones: the cores this process may use (Linux), else all
HASH_WORKERS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
RUN_INFO_SQL = (
    "SELECT r.uid, r.status, t.name AS transform, r.reference, r.reference_type, "
    "p.uid AS initiated_by, r.started_at, r.finished_at FROM runs r "
    "JOIN transforms t ON t.id = r.transform_id LEFT JOIN runs p ON p.id = r.initiated_by_run_id"
)


class Recorder(CallRecorder):
    """Records into one ledger. Not for concurrent use from several threads (use one each)."""

    def __init__(self, db: PathLike | None = None, *, ledger: Ledger | None = None):
        self._use(ledger or open_ledger(resolve_ledger_path(db)))
        self._pending: list[Written] | None = None  # inside batch(): announced after its commit
        self._started: dict[str, StartRun] = {}  # the runs this recorder started: replayed into a spool

    def _use(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.hasher = Hasher(ledger)
        self.writer = Writer(str(ledger.path))
        ledger.on_rollback.append(self.writer.forget)

    # ---- recording (the methods of RecorderAPI come from CallRecorder) --------------------------
    def submit(self, call: Call) -> None:
        call = self._remember(call)
        try:
            self._submit(call)
        except ServerUnreachable as error:  # the server went away mid-run: on into the local spool
            server = self.ledger.path
            if not isinstance(server, ServerLedger) or self._pending is not None:
                raise
            self._to_spool(server, error)
            self._submit(call)

    def _remember(self, call: Call) -> Call:
        """A run's start, kept (with its time fixed) to be replayed into a spool if the server goes away."""
        if isinstance(call, StartRun) and not isinstance(call.transform, int):
            if call.started_at is None:
                call = dataclasses.replace(call, started_at=now())
            self._started[call.uid] = call
        return call

    def _submit(self, call: Call) -> None:
        prepared = prepare(call, self.hasher)
        with self.batch() as conn:
            self._wrote(write(call, self.writer, conn, prepared))

    def _to_spool(self, server: ServerLedger, error: ServerUnreachable) -> None:
        """Record into the server's local spool from now on, starting with the runs this recorder started
        (their later records refer to them; the push merges them with the server's copies)."""
        self.ledger.close()
        self._use(spool_ledger(server, error))
        for start in self._started.values():
            if not self.ledger.query("SELECT 1 FROM runs WHERE uid = ?", (start.uid,)):
                self._submit(start)

    def submit_all(self, calls: Sequence[Call], on_error: Callable[[Call, Exception], None]) -> None:
        """All calls in one transaction; if that fails, one by one, so a bad call loses only itself."""
        calls = [self._remember(call) for call in calls]
        try:
            self.hasher.warm([path for call in calls for path in _made(call)], HASH_WORKERS)
            prepared = [prepare(call, self.hasher) for call in calls]
            with self.batch() as conn:
                for call, ready in zip(calls, prepared):
                    self._wrote(write(call, self.writer, conn, ready))
        except Exception as error:
            if len(calls) == 1 and not isinstance(error, ServerUnreachable):
                on_error(calls[0], error)
                return
            for call in calls:
                try:
                    self.submit(call)
                except Exception as error:
                    on_error(call, error)

    @contextlib.contextmanager
    def batch(self) -> Iterator[object]:
        """Several calls in one transaction (one commit): `with recorder.batch(): ...`; all or nothing."""
        outer = self._pending is None
        if outer:
            self._pending = []
        try:
            with self.ledger.write() as conn:
                yield conn
        except BaseException:
            if outer:
                self._pending = None
            raise
        if outer:
            written, self._pending = self._pending or [], None
            announce(self.ledger, written)

    def _wrote(self, written: Written) -> None:
        assert self._pending is not None, "writes happen inside batch()"
        self._pending.append(written)

    # ---- what the Python API needs beyond the plugin contract ----------------------------------
    def register_artifact(self, path: PathLike, *, run_uid: str | None = None, description: str | None = None) -> int:
        """One file or folder: an output of run `run_uid` when given, else a raw input. Returns its id."""
        role = "output" if run_uid else "input"
        prepared = self.hasher.prepare(**{f"{role}s": [path]})
        if prepared.problems:
            raise InputError("; ".join(p for problems in prepared.problems.values() for p in problems))
        with self.batch() as conn:
            content = (prepared.outputs or prepared.inputs)[0]
            run_id = self.writer.run_id(conn, run_uid) if run_uid else None
            artifact_id, linked_as = self.writer.artifact(conn, content, run_id, role)
            if description:
                self.writer.describe_artifact(conn, artifact_id, description)
            self.writer.write_cache(conn, prepared)
            if run_id is not None and run_uid is not None:
                self._wrote(Written(run_id, run_uid, links=[(artifact_id, linked_as)]))
        return artifact_id

    def save_transform(self, spec: TransformSpec) -> int:
        with self.batch() as conn:
            return self.writer.transform_id(conn, spec)

    def start(self, call: StartRun) -> dict:
        """`submit(call)`, returning the run's row (the Python API's `Run.save()` becomes it)."""
        prepared = prepare(call, self.hasher)
        with self.batch() as conn:
            written = write(call, self.writer, conn, prepared)
            self._wrote(written)
        assert written.row is not None
        return written.row

    def update_run(self, run_id: int, uid: str, fields: dict, was: str | None = None) -> None:
        """Write changed fields of a saved run; announce `run_finished` when it reaches a final status."""
        with self.batch() as conn:
            was = self.writer.update_run(conn, run_id, fields, was, uid)
            status = fields.get("status")
            if status is not None and RunStatus(status).is_final and not RunStatus(was).is_final:
                self._wrote(Written(run_id, uid, finished=True))

    def save_collection(self, name: str, member_ids: list[int], *, run_id: int | None, description: str | None) -> int:
        listing = "".join(sorted(f"{h}\n" for h in self._member_hashes(member_ids)))
        digest = hashlib.sha256(listing.encode()).hexdigest()
        with self.batch() as conn:
            return self.writer.save_collection(conn, name, member_ids, digest, run_id=run_id, description=description)

    def _member_hashes(self, member_ids: list[int]) -> list[str]:
        if not member_ids:
            return []
        marks = ", ".join("?" * len(member_ids))
        rows = self.ledger.query(f"SELECT hash FROM artifacts WHERE id IN ({marks})", member_ids)
        return [row["hash"] for row in rows]

    def run_id(self, uid: str) -> int:
        return self.writer.run_id(self.ledger.conn, uid)

    # ---- reading back (the queries plugins need) -----------------------------------------------
    def find_run(self, *, reference: str, reference_type: str) -> str | None:
        rows = self.ledger.query(
            "SELECT uid FROM runs WHERE reference = ? AND reference_type = ? ORDER BY id DESC LIMIT 1",
            (reference, reference_type),
        )
        return rows[0]["uid"] if rows else None

    def get_run(self, uid: str) -> RunInfo | None:
        rows = self.ledger.query(f"{RUN_INFO_SQL} WHERE r.uid = ?", (uid,))
        return _run_info(rows[0]) if rows else None

    def runs_under(self, uid: str) -> list[RunInfo]:
        rows = self.ledger.query(f"{RUN_INFO_SQL} WHERE p.uid = ? ORDER BY r.id", (uid,))
        return [_run_info(row) for row in rows]

    def close(self, timeout: float | None = None) -> bool:
        self.ledger.close()
        return True


def prepare(call: Call, hasher: Hasher) -> Prepared:
    """Hash the files of a call, before its transaction (so a large file never holds the write lock)."""
    match call:
        case StartRun():
            return hasher.prepare(environment=call.environment) if call.environment else Prepared()
        case RecordJob():
            ran = call.status == RunStatus.COMPLETED  # its files existed, even if gone now
            return hasher.prepare(
                inputs=call.inputs, outputs=call.outputs, logs=call.logs, environment=call.environment, ran=ran
            )
        case FinishRun():
            return hasher.prepare(report=call.report) if call.report else Prepared()
        case AddFiles():
            return hasher.prepare(**{f"{call.role}s": call.paths})
    raise TypeError(f"not a recorder call: {call!r}")


def write(call: Call, writer: Writer, conn: Transaction, prepared: Prepared) -> Written:
    """Write a call through the one writer, inside the transaction the caller holds."""
    match call:
        case StartRun() | RecordJob():
            finished = call.finished_at if isinstance(call, RecordJob) else None
            exit_code, error = (call.exit_code, call.error) if isinstance(call, RecordJob) else (None, None)
            return writer.insert_run(
                conn,
                call.transform,
                prepared,
                reference=call.reference,
                reference_type=call.reference_type,
                initiated_by=call.initiated_by,
                started_at=call.started_at,
                finished_at=finished,
                json=call.json,
                created_by=call.created_by,
                environment_reference=call.environment_reference,
                status=call.status,
                uid=call.uid,
                exit_code=exit_code,
                error=error,
            )
        case FinishRun():
            return writer.finish_run(
                conn,
                call.uid,
                prepared,
                status=call.status,
                finished_at=call.finished_at,
                exit_code=call.exit_code,
                error=call.error,
                json=call.json,
            )
        case AddFiles():
            return writer.add_files(conn, call.uid, prepared)
    raise TypeError(f"not a recorder call: {call!r}")


def _made(call: Call) -> Sequence[PathLike]:
    """The files a call records as made (outputs, logs): new, large ones are worth hashing side by side."""
    match call:
        case RecordJob():
            return [*call.outputs, *call.logs]
        case AddFiles(role="output"):
            return call.paths
    return ()


def _run_info(row: dict) -> RunInfo:
    return RunInfo(**{**row, "status": RunStatus(row["status"])})


def recorder_for(ledger: Ledger) -> Recorder:
    """The recorder the Python API uses for `ledger` (one per ledger connection)."""
    if ledger.recorder is None:
        ledger.recorder = Recorder(ledger=ledger)
    return ledger.recorder
