"""`flowledger redun import`: record executions that ran without the plugin, from redun's database.

Reads redun.db through redun's own SQLAlchemy models and applies the live observer's rules
(`values.job_inputs` / `values.job_outputs`), so an imported execution agrees with a recorded
one. What the database cannot tell, and what we assume instead:
- the working directory: File paths are stored as written; relative ones are resolved against
  `base_dir` (default: the folder holding `.redun/`, else the current directory);
- which files existed when a job started: inputs are the argument files that exist now;
- times are redun's bookkeeping times (job start and end as the scheduler recorded them);
- a job still RUNNING in the database was left so by a stopped execution: it is recorded aborted
  (import finished executions only).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Optional

from .hooks import DEFAULT_DB_URI
from .observer import JOB_REFERENCE_TYPE, REFERENCE_TYPE, error_text, pipeline_transform, task_transform
from .values import job_inputs, job_outputs

STATUS = {"DONE": "completed", "CACHED": "cached", "FAILED": "errored", "RUNNING": "aborted"}


@dataclass
class Imported:
    execution_id: str
    run_uid: Optional[str]  # None: already in the ledger, skipped
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
    execution: Optional[str] = None,
    base_dir: Optional[str] = None,
    ledger: Optional[str] = None,
) -> list[Imported]:
    """Import one execution (id or unique prefix) or all of them, oldest first; skip known ones."""
    from flowledger.plugin_api import Recorder
    from redun.backends.db import Execution, Job, RedunBackendDb

    if db_uri.startswith("sqlite:///") and not os.path.exists(db_uri[len("sqlite:///") :]):
        raise FileNotFoundError(f"no redun database at {db_uri[len('sqlite:///'):]}")
    base = os.path.abspath(base_dir or default_base_dir(db_uri))
    backend = RedunBackendDb(db_uri=db_uri)
    backend.load(migrate=False)
    session = backend.session
    query = session.query(Execution).join(Job, Execution.job_id == Job.id)
    if execution:
        query = query.filter(Execution.id.like(f"{execution}%"))
    executions = query.order_by(Job.start_time).all()
    if execution and len(executions) != 1:
        raise LookupError(f"{len(executions)} redun executions match {execution!r}")
    rec = Recorder(db=ledger)
    try:
        return [_import_execution(rec, session, ex, base) for ex in executions]
    finally:
        rec.close()
        session.close()


def _import_execution(rec: Any, session: Any, ex: Any, base: str) -> Imported:
    from flowledger.plugin_api import new_uid
    from redun.backends.db import Job, Tag
    from redun.backends.base import TagEntity

    if rec.find_run(reference=ex.id, reference_type=REFERENCE_TYPE):
        return Imported(ex.id, None, 0)
    root = ex.job
    tags = {
        tag.key: tag.value
        for tag in session.query(Tag).filter(
            Tag.entity_type == TagEntity.Execution, Tag.entity_id == ex.id, Tag.is_current.is_(True)
        )
    }
    jobs = (
        session.query(Job)
        .filter(Job.execution_id == ex.id)
        .order_by(Job.end_time.is_(None), Job.end_time, Job.start_time)
        .all()
    )
    exec_uid = rec.start_run(
        transform=pipeline_transform(root.task),
        reference=ex.id,
        reference_type=REFERENCE_TYPE,
        started_at=root.start_time,
        json={"args": _argv(ex.args), "tags": {}, "imported_from": "redun.db", "base_dir": base},
        status="started",
    )
    attributed: set[str] = set()
    errors: dict[str, str] = {}  # error value hash -> the job it first appeared in
    uids = {job.id: new_uid(16) for job in jobs}  # known up front: children name their parent's run
    for job in jobs:
        node = job.call_node
        status = STATUS[job.status]
        args = _call_args(node) if node is not None else ()
        inputs, remote = job_inputs(args, base)
        outputs: list[str] = []
        error = None
        info: dict[str, Any] = {"task_hash": job.task_hash, "execution_id": ex.id}
        if job.parent_id:
            info["parent_job_id"] = job.parent_id
            info["parent_run_uid"] = uids.get(job.parent_id)
        if node is not None:
            info["call_hash"] = node.call_hash
            info["args_hash"] = node.args_hash
            result = node.value.value_parsed
            if status == "errored":
                error = _error_text(result)
                first = errors.setdefault(node.value_hash, job.id)
                if first != job.id:
                    info["error_from_job_id"] = first
            else:
                outputs, more = job_outputs(result, inputs, attributed, base)
                remote += more
        if remote:
            info["remote_files"] = sorted(set(remote))
        rec.record_job(
            transform=task_transform(job.task),
            inputs=inputs,
            outputs=outputs,
            initiated_by=exec_uid,
            reference=job.id,
            reference_type=JOB_REFERENCE_TYPE,
            status=status,
            started_at=job.start_time,
            finished_at=job.end_time,
            json=info,
            error=error,
            uid=uids[job.id],
        )
    root_status = STATUS[root.status]
    ends = [j.end_time for j in jobs if j.end_time is not None]
    rec.finish_run(
        exec_uid,
        status="completed" if root_status in ("completed", "cached") else root_status,
        finished_at=max(ends) if ends else ex.updated_time,
        error=_error_text(root.call_node.value.value_parsed) if root_status == "errored" else None,
        json={"tags": tags, "jobs": len(jobs)},
    )
    return Imported(ex.id, exec_uid, len(jobs))


def _call_args(node: Any) -> tuple[list, dict]:
    """The CallNode's arguments, deserialized, as (args, kwargs)."""
    positional = sorted(
        (a for a in node.arguments if a.arg_position is not None), key=lambda a: a.arg_position
    )
    return (
        [a.value.value_parsed for a in positional],
        {a.arg_key: a.value.value_parsed for a in node.arguments if a.arg_key is not None},
    )


def _error_text(value: Any) -> str:
    """The error of a redun `ErrorValue`, as the live observer records it."""
    return error_text(getattr(value, "error", value))


def _argv(args: Any) -> list:
    try:
        return list(json.loads(args)) if isinstance(args, str) else list(args or [])
    except (ValueError, TypeError):
        return [str(args)]

