"""`flowledger redun import`: record executions that ran without the plugin, from redun's database.

The intake that reads redun.db through redun's own SQLAlchemy models. What each execution and job
becomes is `mapping`'s to say, as for the live tracker, so an imported execution agrees with a
recorded one. What the database cannot tell, and what we assume instead:
- the working directory: File paths are stored as written; relative ones are resolved against
  `base_dir` (default: the folder holding `.redun/`, else the current directory);
- which files existed when a job started: inputs are the argument files that exist now, except those
  redun hashed as missing and that were written after the job started (files handed over to be
  written, such as a staged `script()` output);
- a file deleted since (a cleanup task's) has no known content: it is listed as missing in the Run's
  json, not recorded, unless the ledger already knows its hash;
- times are redun's bookkeeping times (job start and end as the scheduler recorded them);
- a job still RUNNING in the database was left so by a stopped execution: it is recorded aborted
  (import finished executions only).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from flowledger.plugin_api import PathLike, RecorderAPI, RunStatus, new_uid, open_recorder

from . import DEFAULT_DB_URI
from .mapping import (
    EXECUTION_REFERENCE_TYPE,
    JOB_REFERENCE_TYPE,
    execution_argv,
    execution_end_json,
    execution_start_json,
    imported_execution_status,
    job_inputs,
    job_json,
    job_outputs,
    job_status,
    missing_when_hashed,
    pipeline_transform,
    stored_error_text,
    tags_json,
    task_transform,
)


class NotARedunDatabase(ValueError):
    """The file at the database URI is no redun database (another SQLite file, or no SQLite at all)."""


REDUN_TABLES = {"redun_version", "execution", "job", "call_node"}


@dataclass
class Imported:
    execution_id: str
    run_uid: str | None  # None: already in the ledger, skipped
    jobs: int


def default_base_dir(db_uri: str) -> str:
    """The folder that holds `.redun/redun.db` (where `redun run` ran), else the current one."""
    if db_uri.startswith("sqlite:///"):
        folder = os.path.dirname(os.path.abspath(db_uri[len("sqlite:///") :]))
        if os.path.basename(folder) == ".redun":
            return os.path.dirname(folder)
    return os.getcwd()


def import_executions(
    db_uri: str = DEFAULT_DB_URI,
    execution: str | None = None,
    base_dir: str | None = None,
    ledger: PathLike | None = None,
) -> list[Imported]:
    """Import one execution (id or unique prefix) or all of them, oldest first; skip known ones."""
    from redun.backends.db import Execution, Job, RedunBackendDb

    if db_uri.startswith("sqlite:///"):
        check_redun_sqlite(db_uri[len("sqlite:///") :])
    base = os.path.abspath(base_dir or default_base_dir(db_uri))
    backend = RedunBackendDb(db_uri=db_uri)
    backend.load(migrate=False)
    session = backend.session
    assert session is not None  # load() opened it
    query = session.query(Execution).join(Job, Execution.job_id == Job.id)
    if execution:
        query = query.filter(Execution.id.like(f"{execution}%"))
    executions = query.order_by(Job.start_time).all()
    if execution and len(executions) != 1:
        raise LookupError(f"{len(executions)} redun executions match {execution!r}")
    recorder = open_recorder(ledger, background=False)
    try:
        return [_import_execution(recorder, session, ex, base) for ex in executions]
    finally:
        recorder.close()
        session.close()


def check_redun_sqlite(path: str) -> None:
    """Raise, with one line naming the file, unless `path` is an SQLite file holding redun's tables.

    The file is opened read-only, before redun (which might create or migrate tables) sees it.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"no redun database at {path}")
    if os.path.isdir(path):
        raise NotARedunDatabase(f"{path} is a folder, not a redun database")
    try:
        with open(path, "rb") as fh:
            header = fh.read(16)
    except OSError as error:
        raise NotARedunDatabase(f"{path} cannot be read ({error.strerror})") from None
    if header != b"SQLite format 3\x00":
        raise NotARedunDatabase(f"{path} is not a redun database (not an SQLite file)")
    try:
        con = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
    except sqlite3.Error as error:
        raise NotARedunDatabase(f"{path} is not a redun database ({error})") from None
    if not REDUN_TABLES.issubset(tables):
        raise NotARedunDatabase(f"{path} is not a redun database (an SQLite file without redun's tables)")


def _import_execution(recorder: RecorderAPI, session: Any, ex: Any, base: str) -> Imported:
    from redun.backends.base import TagEntity
    from redun.backends.db import Job, Tag

    if recorder.find_run(reference=ex.id, reference_type=EXECUTION_REFERENCE_TYPE):
        return Imported(ex.id, None, 0)
    root = ex.job
    tags = tags_json(
        (tag.key, tag.value)
        for tag in session.query(Tag).filter(
            Tag.entity_type == TagEntity.Execution, Tag.entity_id == ex.id, Tag.is_current.is_(True)
        )
    )
    jobs = (
        session.query(Job)
        .filter(Job.execution_id == ex.id)
        .order_by(Job.end_time.is_(None), Job.end_time, Job.start_time)
        .all()
    )
    uids = {job.id: new_uid(16) for job in jobs}
    # One transaction per call, as the core's recorder does: files are hashed before the ledger's write
    # lock is taken, so importing large outputs never keeps a running pipeline from recording.
    exec_uid = recorder.start_run(
        pipeline_transform(root.task),
        reference=ex.id,
        reference_type=EXECUTION_REFERENCE_TYPE,
        started_at=root.start_time,
        json=execution_start_json(execution_argv(ex.args), imported_from="redun.db", base_dir=base),
        status=RunStatus.STARTED,
    )
    state = _ExecutionImport(recorder, ex.id, exec_uid, base, uids)
    for job in jobs:
        state.record_job(job)
    ends = [j.end_time for j in jobs if j.end_time is not None]
    failed = job_status(root.status) is RunStatus.ERRORED
    recorder.finish_run(
        exec_uid,
        status=imported_execution_status(root.status),
        finished_at=max(ends) if ends else ex.updated_time,
        error=stored_error_text(root.call_node.value.value_parsed) if failed else None,
        json=execution_end_json(tags, len(jobs)),
    )
    return Imported(ex.id, exec_uid, len(jobs))


@dataclass
class _ExecutionImport:
    """What importing one execution keeps from one job to the next (jobs come children first)."""

    recorder: RecorderAPI
    execution_id: str
    run_uid: str
    base: str
    job_uids: dict[str, str]  # job id -> its Run's uid, made up front: children name their parent's run
    below: dict[str, set[str]] = field(default_factory=dict)  # job id -> its imported descendants' outputs
    errors: dict[str, str] = field(default_factory=dict)  # error value hash -> the job it first appeared in

    def record_job(self, job: Any) -> None:
        node = job.call_node  # None for a job left running: redun kept no call for it
        status = job_status(job.status)
        args = _call_args(node) if node is not None else ()
        inputs, remote = job_inputs(args, self.base, _existed_at_start(job, missing_when_hashed(args, self.base)))
        outputs: list[str] = []
        below = self.below.pop(job.id, set())
        error = error_from = None
        if node is not None:
            result = node.value.value_parsed
            if status is RunStatus.ERRORED:
                error = stored_error_text(result)
                first = self.errors.setdefault(node.value_hash, job.id)
                if first != job.id:  # a parent failing because its child did
                    error_from = first
            else:
                outputs, more = job_outputs(result, inputs, below, self.base)
                remote += more
        if job.parent_id:  # jobs come children first: the parent passes these on
            self.below.setdefault(job.parent_id, set()).update(outputs, below)
        self.recorder.record_job(
            task_transform(job.task),
            inputs=inputs,
            outputs=outputs,
            initiated_by=self.run_uid,
            reference=job.id,
            reference_type=JOB_REFERENCE_TYPE,
            status=status,
            started_at=job.start_time,
            finished_at=job.end_time,
            json=job_json(
                job.task,
                execution_id=self.execution_id,
                parent_job_id=job.parent_id,
                parent_run_uid=self.job_uids.get(job.parent_id) if job.parent_id else None,
                args_hash=node.args_hash if node is not None else None,
                call_hash=node.call_hash if node is not None else None,
                remote_files=remote,
                error_from_job_id=error_from,
            ),
            error=error,
            uid=self.job_uids[job.id],
        )


def _existed_at_start(job: Any, missing: set[str]) -> Callable[[str], bool]:
    """Whether an argument file existed when `job` started, as far as one can tell now: it exists (or is
    gone, but redun hashed it as present), and unless redun hashed it as missing (a file handed over to be
    written), it was not written after the job started (a staged `script()` output: missing for the script
    job, present for its postprocessing child). What live recording asks of the disk when each job starts."""
    start = job.start_time
    if start is not None and start.tzinfo is None:  # redun keeps UTC
        start = start.replace(tzinfo=UTC)
    started = start.timestamp() if start is not None else None

    def existed(path: str) -> bool:
        try:
            mtime = os.stat(path).st_mtime
        except OSError:  # gone since (a cleanup task): it existed if redun hashed it as present
            return path not in missing
        return path not in missing or (started is not None and mtime < started)

    return existed


def _call_args(node: Any) -> tuple[list, dict]:
    """The CallNode's arguments, read from redun.db and deserialized, as (args, kwargs)."""
    positional = sorted((a for a in node.arguments if a.arg_position is not None), key=lambda a: a.arg_position)
    return (
        [a.value.value_parsed for a in positional],
        {a.arg_key: a.value.value_parsed for a in node.arguments if a.arg_key is not None},
    )
