"""The state of one redun execution, as the scheduler's backend hooks tell it, recorded as flowledger Runs.

`scheduler.py` (the intake) calls `execution_started`, `tags_recorded` and `job_started` on redun's
scheduler thread, and `finish` when `Scheduler.run` ends; a job's `result_promise` calls back when it
settles, with its fully evaluated result. The tracker keeps what it needs between those calls (the
execution's Run, the open jobs, which files their descendants made), asks `mapping` what each thing
becomes, and hands the result to the recorder.

Everything here runs on redun's scheduler thread, so it only walks values and queues calls on a
`BackgroundRecorder` (`open_recorder`), which hashes files and writes the ledger on its own thread (it
lingers a moment after the first call, so jobs settling tens of milliseconds apart share transactions).
One wait: a job that reads a file made earlier in the execution starts only once the recorder has
hashed the outputs queued so far (`flush`), so that a file the job deletes stays in the lineage.
Recording never breaks the workflow: the first failure, here or in the recorder, is one warning
(`WarnOnce`), and the tracker stops.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flowledger.plugin_api import (
    PathLike,
    RecorderAPI,
    RunStatus,
    TransformSpec,
    WarnOnce,
    new_uid,
    open_recorder,
)

from .mapping import (
    EXECUTION_REFERENCE_TYPE,
    JOB_REFERENCE_TYPE,
    error_text,
    execution_end_json,
    execution_start_json,
    execution_status,
    job_inputs,
    job_json,
    job_outputs,
    job_status,
    pipeline_transform,
    tags_json,
    task_transform,
)

# How long a job that reads files made earlier in the execution waits for them to be hashed (a busy
# ledger must not stall the workflow: past this, a file deleted early may be recorded as missing).
FLUSH_TIMEOUT_S = 10.0


@dataclass(slots=True)
class JobState:
    """What we keep about a started job until it settles."""

    uid: str
    started_at: float
    inputs: list[str]
    task: Any
    remote: list[str] = field(default_factory=list)
    parent_job_id: str | None = None
    parent_run_uid: str | None = None
    args_hash: str | None = None
    eval_hash: str | None = None
    error_from_job_id: str | None = None
    below: set[str] = field(default_factory=set)  # files its settled descendants have as outputs


class Tracker:
    """Records one execution. Every entry point is guarded: the first failure warns once and stops it."""

    @classmethod
    def open(cls, ledger: PathLike | None, root_task: Any) -> Tracker:
        """A tracker writing through a `BackgroundRecorder` (hashing and writes off redun's thread)."""
        warn = WarnOnce()
        return cls(open_recorder(ledger, warn=warn), root_task, warn=warn)

    def __init__(self, recorder: RecorderAPI, root_task: Any = None, *, warn: WarnOnce | None = None):
        self.rec = recorder
        self.root_task = root_task
        self.warn = warn or WarnOnce()  # shared with the recorder: one warning per execution
        self.exec_id: str | None = None
        self.exec_uid: str | None = None
        self.tags: dict[str, Any] = {}
        self.open_jobs: dict[str, JobState] = {}
        self.job_uids: dict[str, str] = {}
        self.errors: dict[int, tuple[BaseException, str]] = {}  # id(error) -> (error, job id)
        self.transforms: dict[str, TransformSpec] = {}  # task hash -> its Transform, made once
        self.unhashed: set[str] = set()  # outputs handed to the recorder, maybe not hashed yet
        self.failed = False
        self.cpu_ns = 0  # scheduler-thread CPU spent in our hooks (bench, logs)
        self.jobs_seen = 0

    # -- guard -------------------------------------------------------------------------------
    def _fail(self, exc: BaseException) -> None:
        self.failed = True
        self.warn.failed("redun execution", exc)

    def _guarded(self, method: Callable[..., None], *args: Any) -> None:
        if self.failed:
            return
        t0 = time.thread_time_ns()
        try:
            method(*args)
        except Exception as exc:  # recording must never break the workflow
            self._fail(exc)
        finally:
            self.cpu_ns += time.thread_time_ns() - t0

    # -- the intake's calls (scheduler thread) ---------------------------------------------------
    # Same signatures as the RedunBackend methods they follow.
    def execution_started(self, exec_id: str, args: list[str], *_: Any, **__: Any) -> None:
        self._guarded(self._execution_started, exec_id, args)

    def tags_recorded(self, entity_type: Any, entity_id: str, tags: Any = (), *_: Any, **__: Any) -> None:
        if getattr(entity_type, "name", "") == "Execution" and entity_id == self.exec_id:
            self._guarded(self._tags_recorded, tags)

    def job_started(self, job: Any, *_: Any, **__: Any) -> None:
        self._guarded(self._job_started, job)

    def finish(self, error: BaseException | None) -> None:
        """`Scheduler.run` ended (with `error`, if it raised): close open jobs as aborted, finish the
        execution's Run, flush the recorder."""
        try:
            self._guarded(self._finish, error)
        finally:
            try:
                self.rec.close()  # also after a failure: what was recorded before it stays
            except Exception as exc:
                self._fail(exc)

    # -- implementation ----------------------------------------------------------------------
    def _execution_started(self, exec_id: str, argv: list[str]) -> None:
        self.exec_id = exec_id
        self.exec_uid = self.rec.start_run(
            pipeline_transform(self.root_task),
            reference=exec_id,
            reference_type=EXECUTION_REFERENCE_TYPE,
            # Now, not when the recorder's thread writes it: that can be after `finish` took its end time.
            started_at=time.time(),
            json=execution_start_json(argv, cwd=os.getcwd()),
            status=RunStatus.STARTED,
            uid=new_uid(16),
        )

    def _tags_recorded(self, tags: Any) -> None:
        self.tags.update(tags_json(tags))

    def _job_started(self, job: Any) -> None:
        if self.exec_uid is None or job.id in self.job_uids:
            return
        self.jobs_seen += 1
        uid = new_uid(16)
        self.job_uids[job.id] = uid
        parent = job.parent_job
        inputs, remote = job_inputs(job.args, os.getcwd(), os.path.exists)
        if self.unhashed and not self.unhashed.isdisjoint(inputs):
            self._hash_made_files()
        state = JobState(uid, time.time(), inputs, job.task, remote, args_hash=job.args_hash, eval_hash=job.eval_hash)
        if parent is not None:
            state.parent_job_id = parent.id
            state.parent_run_uid = self.job_uids.get(parent.id)
        self.open_jobs[job.id] = state
        job.result_promise.then(
            lambda result: self._guarded(self._job_done, job, state, result),
            lambda error: self._guarded(self._job_failed, job, state, error),
        )

    def _job_done(self, job: Any, state: JobState, result: Any) -> None:
        if self.open_jobs.pop(job.id, None) is None:
            return
        outputs, remote = job_outputs(result, state.inputs, state.below, os.getcwd())
        state.remote.extend(remote)
        parent = self.open_jobs.get(state.parent_job_id or "")
        if parent is not None:  # children settle before their parents: the parent passes these on
            parent.below.update(outputs, state.below)
        self._record(
            job.id, state, job_status("CACHED" if job.was_cached else "DONE"), outputs, call_hash=job.call_hash
        )

    def _job_failed(self, job: Any, state: JobState, error: BaseException) -> None:
        if self.open_jobs.pop(job.id, None) is None:
            return
        origin = self.errors.get(id(error))
        if origin is not None and origin[0] is error:  # a parent failing because its child did
            state.error_from_job_id = origin[1]
        else:
            self.errors[id(error)] = (error, job.id)
        self._record(job.id, state, job_status("FAILED"), [], call_hash=job.call_hash, error=error_text(error))

    def _record(
        self,
        job_id: str,
        state: JobState,
        status: RunStatus,
        outputs: list[str],
        *,
        call_hash: str | None = None,
        error: str | None = None,
        finished_at: float | None = None,
    ) -> None:
        """Hand a settled job to the recorder (which batches calls into transactions itself)."""
        self.unhashed.update(outputs)
        self.rec.record_job(
            self._transform(state.task),
            inputs=state.inputs,
            outputs=outputs,
            initiated_by=self.exec_uid,
            reference=job_id,
            reference_type=JOB_REFERENCE_TYPE,
            status=status,
            started_at=state.started_at,
            finished_at=finished_at or time.time(),
            json=job_json(
                state.task,
                execution_id=self.exec_id,
                parent_job_id=state.parent_job_id,
                parent_run_uid=state.parent_run_uid,
                args_hash=state.args_hash,
                eval_hash=state.eval_hash,
                call_hash=call_hash,
                remote_files=state.remote,
                error_from_job_id=state.error_from_job_id,
            ),
            error=error,
            uid=state.uid,
        )

    def _hash_made_files(self) -> None:
        """Wait until the recorder has hashed the outputs handed to it so far (on its own thread).

        Called when a job starts that reads a file made earlier in this execution: the job may delete
        it (a cleanup task), and a file gone before it was hashed would drop out of the lineage. Once
        hashed, it stays a node (marked deleted) as the maker's output and the readers' input.
        """
        self.unhashed.clear()
        flush = getattr(self.rec, "flush", None)  # not part of RecorderAPI; BackgroundRecorder has it
        if flush is not None:
            flush(FLUSH_TIMEOUT_S)

    def _transform(self, task: Any) -> TransformSpec:
        spec = self.transforms.get(task.hash)
        if spec is None:
            spec = self.transforms[task.hash] = task_transform(task)
        return spec

    def _finish(self, error: BaseException | None) -> None:
        if self.exec_uid is None:
            return
        now = time.time()
        for job_id, state in list(self.open_jobs.items()):
            # redun is fail-fast: jobs still running when it stopped are left RUNNING in its database.
            self.open_jobs.pop(job_id)
            self._record(job_id, state, job_status("RUNNING"), [], finished_at=now)
        self.rec.finish_run(
            self.exec_uid,
            status=execution_status(error),
            finished_at=now,
            error=None if error is None else error_text(error),
            json=execution_end_json(self.tags, self.jobs_seen),
        )
