"""Turn one redun execution into flowledger Runs, from inside redun's scheduler.

redun 0.44 has no event API. What it does have is a backend that the scheduler calls on its own
thread: `record_execution` when an execution starts, `record_tags` for its tags, and
`record_job_start` for every job that starts, cached or not, once its arguments are evaluated.
From there, `job.result_promise.then(done, failed)` is called synchronously when the job settles,
with the fully evaluated result (also for tasks that return expressions), before redun clears the
job. That is all we need. These attributes are public but undocumented: the plugin pins
`redun>=0.44,<0.45` and a canary test checks them.

Everything here runs on redun's scheduler thread, so it only walks values and queues calls on a
`BackgroundRecorder`, which hashes files and writes the ledger on its own thread (it lingers a
moment after the first call, so jobs settling tens of milliseconds apart share transactions).

Choices:
- A job's Run is initiated by the execution's Run (as every plugin's job runs are); the parent job
  is in its json (`parent_job_id`, `parent_run_uid`).
- A file is an output of the first job whose result holds it (children settle before their
  parents), never of the parents that pass it on, nor of a job that got it as an input.
- A job's inputs are the files in its arguments that exist when it starts (a path handed to a
  task for it to write is not an input).
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Optional

from flowledger.plugin_api import new_uid
from flowledger.plugin_api import TransformSpec

from .decorator import describe, lineage_of
from .values import job_inputs, job_outputs

REFERENCE_TYPE = "redun_id"
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
        from flowledger.plugin_api import BackgroundRecorder

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
        self.transforms: dict[str, TransformSpec] = {}
        self.failed = False
        self.warned = False
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

    def finish(self, status: str, error: Optional[BaseException]) -> None:
        """Close open jobs as aborted, finish the execution's Run, flush the recorder."""
        try:
            self._guarded(self._finish, status, error)
        finally:
            try:
                self.rec.close()  # also after a failure: what was recorded before it stays
            except Exception as exc:
                self._fail(exc)

    # -- implementation ----------------------------------------------------------------------
    def _execution_started(self, exec_id: str, argv: list[str]) -> None:
        self.exec_id = exec_id
        self.exec_uid = self.rec.start_run(
            transform=pipeline_transform(self.root_task),
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
        self._record(job.id, state, status, outputs, call_hash=job.call_hash)

    def _job_failed(self, job: Any, state: JobState, error: BaseException) -> None:
        if self.open_jobs.pop(job.id, None) is None:
            return
        origin = self.errors.get(id(error))
        if origin is not None and origin[0] is error:
            state.json["error_from_job_id"] = origin[1]
        else:
            self.errors[id(error)] = (error, job.id)
        self._record(job.id, state, "errored", [], call_hash=job.call_hash, error=error_text(error))

    def _record(self, job_id: str, state: JobState, status: str, outputs: list[str], *, call_hash=None,
                error: Optional[str] = None, finished_at: Optional[float] = None) -> None:
        """Hand a settled job to the recorder (which batches calls into transactions itself)."""
        if call_hash:
            state.json["call_hash"] = call_hash
        if state.remote:
            state.json["remote_files"] = sorted(set(state.remote))
        self.rec.record_job(
            transform=self._transform(state.task),
            inputs=state.inputs,
            outputs=outputs,
            initiated_by=self.exec_uid,
            reference=job_id,
            reference_type=JOB_REFERENCE_TYPE,
            status=status,
            started_at=state.started_at,
            finished_at=finished_at or time.time(),
            json=state.json,
            error=error,
            uid=state.uid,
        )

    def _transform(self, task: Any) -> TransformSpec:
        spec = self.transforms.get(task.hash)
        if spec is None:
            spec = self.transforms[task.hash] = task_transform(task)
        return spec

    def _finish(self, status: str, error: Optional[BaseException]) -> None:
        if self.exec_uid is None:
            return
        now = time.time()
        for job_id, state in list(self.open_jobs.items()):
            # redun is fail-fast: jobs still running when it stopped are left RUNNING in its
            # database. We say what happened to them.
            self.open_jobs.pop(job_id)
            self._record(job_id, state, "aborted", [], finished_at=now)
        self.rec.finish_run(
            self.exec_uid,
            status=status,
            finished_at=now,
            error=None if error is None else error_text(error),
            exit_code=None,
            json={"tags": self.tags, "jobs": self.jobs_seen},
        )


def error_text(error: BaseException) -> str:
    """How a job's error is recorded (live and imported alike)."""
    return f"{type(error).__name__}: {error}"


# -- Transforms: shared with the importer, whose redun.db `Task` rows have the same fullname, hash, source.
def pipeline_transform(task: Any) -> TransformSpec:
    """The execution's Transform: the root task, versioned by its source (None: redun's own root)."""
    if task is None:
        return TransformSpec(name="redun.root_task", type="pipeline")
    source = getattr(task, "source", None)
    return TransformSpec(name=task.fullname, type="pipeline", source_code=source,
                         description=describe(task.fullname, source))


def task_transform(task: Any) -> TransformSpec:
    """A job's Transform: the task's full name, versioned by redun's task hash, with its source."""
    source = getattr(task, "source", None)
    return TransformSpec(
        name=task.fullname,
        type="task",
        version=task.hash,
        source_code=source,
        description=describe(task.fullname, source),
        reference=task.hash,
        reference_type="redun_task_hash",
    )
