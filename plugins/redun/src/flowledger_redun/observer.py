"""Turn one redun execution into flowledger Runs, from inside redun's scheduler.

redun 0.44 has no event API. What it does have is a backend that the scheduler calls on its own
thread: `record_execution` when an execution starts, `record_tags` for its tags, and
`record_job_start` for every job that starts, cached or not, once its arguments are evaluated.
From there, `job.result_promise.then(done, failed)` is called synchronously when the job settles,
with the fully evaluated result (also for tasks that return expressions), before redun clears the
job. That is all we need. These attributes are public but undocumented: the plugin pins
`redun>=0.44,<0.45` and a canary test checks them.

Everything here runs on redun's scheduler thread, so it only walks values and queues calls on a
`BackgroundRecorder`, which hashes files and writes the ledger on its own thread (finished jobs
are handed over in bursts, see `_queue_job`).

Choices:
- A job's Run is initiated by the execution's Run (as every plugin's job runs are); the parent job
  is in its json (`parent_job_id`, `parent_run_uid`).
- A file is an output of the first job whose result holds it (children settle before their
  parents), never of the parents that pass it on, nor of a job that got it as an input.
- A job's inputs are the files in its arguments that exist when it starts (a path handed to a
  task for it to write is not an input).
"""

from __future__ import annotations

import inspect
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Optional

from flowledger.ids import new_uid

from .decorator import lineage_of
from .values import job_inputs, job_outputs

REFERENCE_TYPE = "redun_id"
FLUSH_SECONDS = 0.5
FLUSH_JOBS = 200
JOB_REFERENCE_TYPE = "redun_job_id"


@dataclass
class JobState:
    """What we keep about a started job until it settles."""

    uid: str
    started_at: float
    inputs: list[str]
    json: dict[str, Any]
    task: Any
    remote: list[str] = field(default_factory=list)


class ExecutionObserver:
    """Records one execution. Every method is guarded: the first failure warns once and stops it."""

    @classmethod
    def open(cls, ledger: Optional[str], root_task: Any) -> "ExecutionObserver":
        """An observer writing through a `BackgroundRecorder` (hashing and writes off redun's thread)."""
        from flowledger.background import BackgroundRecorder

        observer = cls(None, root_task)
        observer.rec = BackgroundRecorder(db=ledger, warn=observer._warn)
        return observer

    def __init__(self, recorder: Any, root_task: Any = None):
        self.rec = recorder
        self.root_task = root_task
        self.exec_id: Optional[str] = None
        self.exec_uid: Optional[str] = None
        self.tags: dict[str, Any] = {}
        self.open_jobs: dict[str, JobState] = {}
        self.job_uids: dict[str, str] = {}
        self.attributed: set[str] = set()
        self.errors: dict[int, tuple[BaseException, str]] = {}  # id(error) -> (error, job id)
        self.transforms: dict[str, Any] = {}
        self.failed = False
        self.warned = False
        self.pending: list[dict[str, Any]] = []  # finished jobs not yet handed to the recorder
        self.flushed_at = time.monotonic()
        self.cpu_ns = 0  # scheduler-thread CPU spent in our hooks (bench, logs)
        self.jobs_seen = 0

    # -- guard -------------------------------------------------------------------------------
    def _warn(self, message: str) -> None:
        """The one warning of an execution, whether the observer or the recorder failed first."""
        if not self.warned:
            self.warned = True
            warnings.warn(message, RuntimeWarning, stacklevel=2)

    def _fail(self, exc: BaseException) -> None:
        if not self.failed:
            self.failed = True
            self._warn(
                f"flowledger could not record this redun execution ({exc!r}); the workflow is not "
                "affected, and what was recorded before stays in the ledger."
            )

    def _guarded(self, method, *args) -> None:
        if self.failed:
            return
        t0 = time.thread_time_ns()
        try:
            method(*args)
        except Exception as exc:  # recording must never break the workflow
            self._fail(exc)
        finally:
            self.cpu_ns += time.thread_time_ns() - t0

    # -- backend hooks (scheduler thread) ------------------------------------------------------
    # Same signatures as the RedunBackend methods they follow.
    def execution_started(self, exec_id: str, args: list[str], *_: Any, **__: Any) -> None:
        self._guarded(self._execution_started, exec_id, args)

    def tags_recorded(self, entity_type: Any, entity_id: str, tags: Any = (), *_: Any, **__: Any) -> None:
        if getattr(entity_type, "name", "") == "Execution" and entity_id == self.exec_id:
            self._guarded(self._tags_recorded, tags)

    def job_started(self, job: Any, *_: Any, **__: Any) -> None:
        self._guarded(self._job_started, job)

    def idle(self, *_: Any, **__: Any) -> None:
        """redun's event loop had nothing to do for a while: hand over the jobs that finished."""
        if self.pending:
            self._guarded(self._flush_jobs)

    def finish(self, status: str, error: Optional[BaseException]) -> None:
        """Close open jobs as aborted, finish the execution's Run, flush the recorder."""
        try:
            self._guarded(self._finish, status, error)
        finally:
            try:
                self._flush_jobs()  # also after a failure: what was recorded before it stays
                self.rec.close()
            except Exception as exc:
                self._fail(exc)

    # -- implementation ----------------------------------------------------------------------
    def _execution_started(self, exec_id: str, argv: list[str]) -> None:
        from flowledger.recorder import TransformSpec

        self.exec_id = exec_id
        task = self.root_task
        name = task.fullname if task is not None else "redun.root_task"
        # The root task's source, as the importer sees it in redun.db, so both give one version.
        source = getattr(task, "source", None)
        self.exec_uid = self.rec.start_run(
            transform=TransformSpec(
                name=name,
                type="pipeline",
                source_code=source,
                description=_describe(task) if task is not None else None,
            ),
            reference=exec_id,
            reference_type=REFERENCE_TYPE,
            json={"args": list(argv), "tags": {}, "cwd": os.getcwd()},
            status="started",
            uid=new_uid(16),
        )

    def _tags_recorded(self, tags: Any) -> None:
        for key, value in tags:
            self.tags[str(key)] = value if isinstance(value, (str, int, float, bool)) else repr(value)

    def _job_started(self, job: Any) -> None:
        if self.exec_uid is None or job.id in self.job_uids:
            return
        self.jobs_seen += 1
        uid = new_uid(16)
        self.job_uids[job.id] = uid
        parent = job.parent_job
        inputs, remote = job_inputs(job.args)
        meta = lineage_of(job.task.fullname)
        json: dict[str, Any] = {
            "task_hash": job.task.hash,
            "eval_hash": job.eval_hash,
            "args_hash": job.args_hash,
            "execution_id": self.exec_id,
        }
        if parent is not None:
            json["parent_job_id"] = parent.id
            if parent.id in self.job_uids:
                json["parent_run_uid"] = self.job_uids[parent.id]
        if meta.get("key"):
            json["output_key"] = meta["key"]
        state = JobState(uid, time.time(), inputs, json, job.task, remote)
        self.open_jobs[job.id] = state
        job.result_promise.then(
            lambda result: self._guarded(self._job_done, job, state, result),
            lambda error: self._guarded(self._job_failed, job, state, error),
        )

    def _job_done(self, job: Any, state: JobState, result: Any) -> None:
        if self.open_jobs.pop(job.id, None) is None:
            return
        outputs, remote = job_outputs(result, state.inputs, self.attributed)
        state.remote.extend(remote)
        status = "cached" if job.was_cached else "completed"
        self._record(job, state, status, outputs)

    def _job_failed(self, job: Any, state: JobState, error: BaseException) -> None:
        if self.open_jobs.pop(job.id, None) is None:
            return
        origin = self.errors.get(id(error))
        if origin is not None and origin[0] is error:
            state.json["error_from_job_id"] = origin[1]
        else:
            self.errors[id(error)] = (error, job.id)
        self._record(job, state, "errored", [], error=f"{type(error).__name__}: {error}")

    def _record(self, job: Any, state: JobState, status: str, outputs: list[str], error=None) -> None:
        if job.call_hash:
            state.json["call_hash"] = job.call_hash
        if state.remote:
            state.json["remote_files"] = sorted(set(state.remote))
        self._queue_job(
            transform=self._transform(job.task),
            inputs=state.inputs,
            outputs=outputs,
            initiated_by=self.exec_uid,
            reference=job.id,
            reference_type=JOB_REFERENCE_TYPE,
            status=status,
            started_at=state.started_at,
            finished_at=time.time(),
            json=state.json,
            error=error,
            uid=state.uid,
        )

    def _queue_job(self, **fields: Any) -> None:
        """Hand finished jobs to the recorder in bursts.

        Jobs settle one at a time, tens of milliseconds apart; passed on one by one, each would wake
        the recorder's thread for a transaction of its own. In bursts (every FLUSH_SECONDS, or
        FLUSH_JOBS jobs) they share one, and the recorder competes less with redun for the GIL.
        """
        self.pending.append(fields)
        now = time.monotonic()
        if len(self.pending) >= FLUSH_JOBS or now - self.flushed_at >= FLUSH_SECONDS:
            self._flush_jobs(now)

    def _flush_jobs(self, now: Optional[float] = None) -> None:
        pending, self.pending = self.pending, []
        self.flushed_at = now or time.monotonic()
        for fields in pending:
            self.rec.record_job(**fields)

    def _transform(self, task: Any) -> Any:
        spec = self.transforms.get(task.hash)
        if spec is None:
            from flowledger.recorder import TransformSpec

            spec = self.transforms[task.hash] = TransformSpec(
                name=task.fullname,
                type="task",
                version=task.hash,
                source_code=getattr(task, "source", None),
                description=_describe(task),
                reference=task.hash,
                reference_type="redun_task_hash",
            )
        return spec

    def _finish(self, status: str, error: Optional[BaseException]) -> None:
        if self.exec_uid is None:
            return
        now = time.time()
        for job_id, state in list(self.open_jobs.items()):
            # redun is fail-fast: jobs still running when it stopped are left RUNNING in its
            # database. We say what happened to them.
            self.open_jobs.pop(job_id)
            self._queue_job(
                transform=self._transform(state.task),
                inputs=state.inputs,
                outputs=[],
                initiated_by=self.exec_uid,
                reference=job_id,
                reference_type=JOB_REFERENCE_TYPE,
                status="aborted",
                started_at=state.started_at,
                finished_at=now,
                json=state.json,
                uid=state.uid,
            )
        self._flush_jobs()
        self.rec.finish_run(
            self.exec_uid,
            status=status,
            finished_at=now,
            error=None if error is None else f"{type(error).__name__}: {error}",
            exit_code=None,
            json={"tags": self.tags, "jobs": self.jobs_seen},
        )


def _describe(task: Any) -> Optional[str]:
    """The decorator's description, else the first line of the task's docstring."""
    meta = lineage_of(task.fullname)
    if meta.get("description"):
        return meta["description"]
    func = getattr(task, "func", None)
    doc = (inspect.getdoc(func) if func is not None else None) or ""
    return doc.splitlines()[0] if doc else None

