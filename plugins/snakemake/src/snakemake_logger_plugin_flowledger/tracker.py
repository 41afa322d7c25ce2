"""The tracker: one Snakemake invocation -> one workflow run with one run per executed job.

Version-agnostic: the Snakemake 9 logger plugin (`LogHandler`) and the Snakemake 8 handler script
(`handler8`) feed it the same `events` dataclasses (plus what their stack probes found) and call
`close()` at the end. It keeps what Snakemake told until a job ends, asks `mapping` what to record, and
records through the recorder that `open_recorder` gives: a `BackgroundRecorder`, so nothing here waits
for hashing or the ledger, and a broken ledger is one warning (the tracker's `WarnOnce`, shared with the
recorder) while the workflow runs on.

`temp()` outputs: Snakemake logs "Removing temporary output PATH." right before it deletes PATH; the
intakes pass that message on synchronously (`before_removal`), and Snakemake waits there until the
recorder has hashed what it was given (measured: ~1.5 ms for a small file, ~25 ms for 10 MB). At the end
the deleted ones are told again to their makers' runs, which marks their artifacts `deleted`. (Snakemake
9 calls `handle` on its log-listener thread and `before_removal` on its own: a lock keeps them apart.)

The workflow run is created lazily, at the first job or error, so dry runs, up-to-date invocations
("Nothing to be done") and `--touch` record nothing and never open the ledger.
"""

from __future__ import annotations

import os
import stat
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from flowledger.plugin_api import (
    RecorderAPI,
    RunStatus,
    TransformSpec,
    WarnOnce,
    open_recorder,
    recording_failed,
    resolve_ledger_path,
)
from snakemake_interface_logger_plugins.common import LogEvent

from . import mapping
from . import workflow_info as wi
from .child_stderr import failure_report
from .events import (
    Error,
    Event,
    JobError,
    JobFinished,
    JobInfo,
    Message,
    ResourcesInfo,
    RunInfo,
    ShellCmd,
    WorkflowStarted,
)

DEFAULT_WAIT = 5.0
HASH_RATE = 100e6  # bytes per second the recorder is assumed to hash at (low priority, loaded machine)
TEMP_REMOVAL = "Removing temporary output "  # Snakemake logs it right before it deletes a temp() file


@dataclass
class TrackerSettings:
    db: str | None = None  # None: FLOWLEDGER_DB, nearest .flowledger/ledger.db, per-user default
    name: str | None = None  # the workflow Transform's name; default: config["name"], else the directory's
    # Seconds to wait, at the end (and before a temp() file is deleted), beyond the time that hashing what
    # was recorded is estimated to still take: a ledger locked for longer is given up on with one warning.
    wait: float = DEFAULT_WAIT


@dataclass
class _OpenJob:
    """A job between its job_info and its end."""

    info: JobInfo
    workdir: str  # event paths are relative to it


@dataclass
class _ErrorNote:
    error: Error
    consumed: bool = False  # it was a job's error (its job_error followed), not the workflow's
    last_job: int | None = None  # the job whose job_info its thread logged last


class Tracker:
    """Keeps what Snakemake told so far and turns finished jobs into ledger records."""

    def __init__(
        self,
        settings: TrackerSettings | None = None,
        *,
        snakemake_major: int,
        recorder: RecorderAPI | None = None,
        warn: WarnOnce | None = None,
        is_dryrun: Callable[[], bool] = lambda: False,
        workflow_id: str | None = None,
    ) -> None:
        self.settings = settings or TrackerSettings()
        self.snakemake_major = snakemake_major
        self.warn = warn or WarnOnce()
        # returns at once: the recorder's thread starts, and the ledger opens, on its first call
        self.recorder: RecorderAPI = recorder or open_recorder(self.settings.db, warn=self.warn)
        self.is_dryrun = is_dryrun
        self.workflow_id = workflow_id  # Snakemake 9: from workflow_started; 8: made on first need
        self.started: WorkflowStarted | None = None
        self.cores: int | None = None
        self.logfile: str | None = None
        self.interrupted = False
        self.job_stats: dict[str, int] | None = None
        self.run_uid: str | None = None
        self.started_at: float | None = None
        self.created_by: str | None = None
        self.jobs: dict[int, _OpenJob] = {}  # jobid -> the job, until it ends
        self.live_jobs: dict[int, Any] = {}  # jobid -> snakemake Job (from the stack probe)
        self.job_failures: dict[int, BaseException | None] = {}  # jobid -> exception (stack probe)
        self.errors: list[_ErrorNote] = []
        self._error_in_thread: dict[str | None, _ErrorNote] = {}
        self.last_job_in_thread: dict[str | None, int] = {}
        self.counts: dict[RunStatus, int] = dict.fromkeys(mapping.JOB_OUTCOMES, 0)
        self._rules: dict[str, tuple[TransformSpec, str | None]] = {}  # rule -> (TransformSpec, source kind)
        self.closed = False
        self._broken = False
        # handle() runs on Snakemake 9's log-listener thread, before_removal() in Snakemake's own thread
        self._lock = threading.RLock()
        self.recorded_outputs: set[str] = set()  # outputs of the job runs handed to the recorder
        self.temp_makers: dict[str, str] = {}  # temp() output -> the uid of the job run that made it
        self._hashed_by = 0.0  # when the recorder should be done hashing what it was given (estimate)
        self.removal_waits: list[float] = []  # seconds each wait before a temp() deletion took
        self._touch: bool | None = None
        self._handlers: dict[type, Callable[[Any], None]] = {
            WorkflowStarted: self._on_workflow_started,
            ResourcesInfo: self._on_resources_info,
            RunInfo: self._on_run_info,
            JobInfo: self._on_job_info,
            ShellCmd: self._on_shellcmd,
            JobFinished: self._on_job_finished,
            JobError: self._on_job_error,
            Error: self._on_error,
            Message: self._on_message,
        }

    # ---- input -------------------------------------------------------------------------------
    def probe_stack(self, kind: LogEvent | str, jobid: Any) -> None:
        """Called synchronously in the thread that logs a message (Snakemake 9's logging filter, Snakemake
        8's handler): keeps the live Job behind a job_info, or the exception behind a job_error, which the
        messages leave out. Cheap: a short walk up the caller's stack, nothing else. (Called straight from
        the intake and calling `workflow_info` straight, so the stack walks stay as deep as the canary
        tests measure.)"""
        if jobid is None:
            return
        if kind == LogEvent.JOB_INFO:
            job = wi.job_from_stack()
            if job is not None:
                self.live_jobs[int(jobid)] = job
        elif kind == LogEvent.JOB_ERROR:
            self.job_failures[int(jobid)] = wi.exception_from_stack()

    def handle(self, event: Event) -> None:
        """Take one event; never raises (a bug here must not reach Snakemake)."""
        with self._lock:
            self._handle(event)

    def _handle(self, event: Event) -> None:
        if self.closed or self._broken:
            return
        try:
            if self.started_at is None:
                self.started_at = event.time or time.time()
            handler = self._handlers.get(type(event))
            if handler is not None:
                handler(event)
            if not isinstance(event, Error):  # a job's error message is the one its thread logged just before
                self._error_in_thread.pop(event.thread, None)
        except Exception as error:
            self._broken = True
            self.warn.failed("the Snakemake plugin stopped recording this workflow after an internal error", error)

    def before_removal(self, text: Any) -> None:
        """Called synchronously in the thread that logs "Removing temporary output PATH." (Snakemake deletes
        PATH right after): the job that made PATH is recorded now if its end was not told yet, and Snakemake
        waits (at most `settings.wait` beyond the estimated hashing time) until the recorder has hashed
        what it was given, so that PATH's content is known when its consumers' runs link it. Never raises."""
        try:
            if not isinstance(text, str) or not text.startswith(TEMP_REMOVAL) or self.closed or self._broken:
                return
            path = mapping.absolute([text[len(TEMP_REMOVAL) :].strip().removesuffix(".")], os.getcwd())[0]
            with self._lock:
                for jobid, job in list(self.jobs.items()):
                    if path in mapping.absolute(job.info.output, job.workdir):  # it ended: its output goes
                        ended = self._job_end(jobid, wi.live_workflow(), finished=True)
                        self._record_job(jobid, RunStatus.COMPLETED, ended or time.time())
                if path not in self.recorded_outputs:
                    return
            flush = getattr(self.recorder, "flush", None)  # BackgroundRecorder; a synchronous one wrote already
            if flush is not None:
                began = time.monotonic()
                flush(timeout=self._wait_budget())
                self.removal_waits.append(time.monotonic() - began)
        except Exception as error:
            self.warn.failed("recording a temp() output before its deletion", error)

    def _wait_budget(self) -> float:
        """`settings.wait` plus the time the recorder is estimated to still need for hashing."""
        return max(0.0, float(self.settings.wait)) + max(0.0, self._hashed_by - time.monotonic())

    def _on_workflow_started(self, event: WorkflowStarted) -> None:
        self.started = event
        self.workflow_id = event.workflow_id or self.workflow_id
        self.started_at = event.time or self.started_at

    def _on_message(self, event: Message) -> None:
        """Snakemake's own log of this invocation becomes the run's report; Ctrl-C makes it `aborted`."""
        if event.is_interrupt:
            self.interrupted = True
        elif event.logfile:
            self.logfile = os.path.abspath(event.logfile)

    def _on_resources_info(self, event: ResourcesInfo) -> None:
        if event.cores is not None:
            self.cores = event.cores

    def _on_run_info(self, event: RunInfo) -> None:
        if event.stats and self.job_stats is None:
            self.job_stats = event.stats

    def _not_executing(self) -> bool:
        """Dry runs and `--touch` report jobs that do not run: they must leave no trace in the ledger."""
        if self.is_dryrun():
            return True
        if self._touch is None:
            self._touch = wi.is_touch_run(wi.live_workflow())
        return self._touch

    def _on_job_info(self, event: JobInfo) -> None:
        if self._not_executing() or event.jobid is None:
            return
        self._open_job(event.jobid, event)
        self.last_job_in_thread[event.thread] = event.jobid
        self._ensure_workflow_run()

    def _open_job(self, jobid: int, event: JobInfo) -> None:
        """What a job_info (or a job_error without one) tells about a job, until the job ends."""
        self.jobs[jobid] = _OpenJob(event, os.getcwd())

    def _on_shellcmd(self, event: ShellCmd) -> None:
        """Snakemake 8 sends the command separately, right after its job_info, in the same thread."""
        jobid = self.last_job_in_thread.get(event.thread)
        job = self.jobs.get(jobid) if jobid is not None else None
        if job is not None and not job.info.shellcmd:
            job.info = replace(job.info, shellcmd=event.shellcmd)

    def _on_job_finished(self, event: JobFinished) -> None:
        if event.jobid in self.jobs:
            self._record_job(event.jobid, RunStatus.COMPLETED, event.time)

    def _on_job_error(self, event: JobError) -> None:
        if self._not_executing() or event.jobid is None:
            return
        jobid = event.jobid
        if jobid not in self.jobs:  # job_error without job_info (should not happen): keep what it says
            self._open_job(jobid, event)
        self._ensure_workflow_run()
        failure = self.job_failures.pop(jobid, None)
        error, exit_code = mapping.job_failure(
            self._error_for_thread(event.thread),
            exit_code=wi.exit_code_of(failure),
            described=wi.describe_exception(failure),
            rule=event.rule,
            jobid=jobid,
            child_report=failure_report(failure),
        )
        self._record_job(jobid, RunStatus.ERRORED, event.time, error=error, exit_code=exit_code, error_event=event)

    def _on_error(self, event: Error) -> None:
        if self.is_dryrun():
            return
        note = _ErrorNote(event, last_job=self.last_job_in_thread.get(event.thread))
        self.errors.append(note)
        self._error_in_thread[event.thread] = note

    def _error_for_thread(self, thread: str | None) -> Error | None:
        """The error message its thread logged right before a job_error: the job's exception.

        Anything else in between (or an error from another thread) is a workflow-level error.
        """
        note = self._error_in_thread.pop(thread, None)
        if note is None:
            return None
        note.consumed = True
        return note.error

    # ---- the workflow run ----------------------------------------------------------------------
    def _ensure_workflow_run(self) -> None:
        if self.run_uid is not None:
            return
        if not self.workflow_id:
            self.workflow_id = str(uuid.uuid4())
        spec, data = self._workflow_transform(wi.live_workflow())
        self.run_uid = self.recorder.start_run(
            spec,
            reference=self.workflow_id,
            reference_type=mapping.REFERENCE_TYPE,
            started_at=self.started_at or time.time(),
            json=data,
            created_by=self.created_by,
            status=RunStatus.STARTED,
        )

    def _workflow_transform(self, workflow: Any) -> tuple[TransformSpec, dict[str, Any]]:
        facts = wi.read_workflow(workflow, self.started, self.cores)
        self.created_by = facts.user
        return mapping.workflow_transform(facts, self.settings.name), mapping.workflow_json(facts, self.job_stats)

    # ---- jobs ----------------------------------------------------------------------------------
    def _rule_spec(self, rule: str | None, workflow: Any) -> tuple[TransformSpec, str | None]:
        """(TransformSpec, source kind) of a rule, looked up once per invocation."""
        key = rule or "?"
        if key not in self._rules:
            source = wi.rule_source(workflow, key) if workflow is not None else wi.RuleSource()
            self._rules[key] = (mapping.rule_transform(key, source), source.kind)
        return self._rules[key]

    def _record_job(
        self,
        jobid: int,
        status: RunStatus,
        finished_at: float,
        *,
        error: str | None = None,
        exit_code: int | None = None,
        error_event: JobError | None = None,
    ) -> None:
        job = self.jobs.pop(jobid)
        live = self.live_jobs.pop(jobid, None)
        self._ensure_workflow_run()
        if self.run_uid is None:
            return
        workflow = wi.live_workflow()
        if live is None and workflow is not None:
            live = wi.job_for_id(workflow, jobid)
        details = wi.job_details(live) if live is not None else wi.JobDetails()
        spec, source_kind = self._rule_spec(job.info.rule, workflow)
        run = mapping.job_run(
            job.info,
            details,
            workflow_id=self.workflow_id,
            workdir=job.workdir,
            source_kind=source_kind,
            status=status,
            finished_at=finished_at,
            error=error,
            exit_code=exit_code,
            error_event=error_event,
        )
        self._count_hashing([*run.inputs, *run.outputs, *run.logs])
        self.recorded_outputs.update(run.outputs)
        uid = self.recorder.record_job(
            spec,
            inputs=run.inputs,
            outputs=run.outputs,
            logs=run.logs,
            initiated_by=self.run_uid,
            reference=run.reference,
            reference_type=run.reference_type,
            status=run.status,
            started_at=run.started_at,
            finished_at=run.finished_at,
            json=run.json,
            exit_code=run.exit_code,
            error=run.error,
            environment=run.environment,
            environment_reference=run.environment_reference,
            created_by=self.created_by,
        )
        if status is RunStatus.COMPLETED:
            for path in mapping.temp_outputs(job.info, details, job.workdir):
                self.temp_makers[path] = uid
        self.counts[status] = self.counts.get(status, 0) + 1

    def _count_hashing(self, paths: list[str]) -> None:
        """Adds the regular files' sizes to the estimate of when the recorder is done hashing."""
        size = 0
        for path in paths:
            try:
                info = os.stat(path)
            except (OSError, ValueError):
                continue
            if stat.S_ISREG(info.st_mode):
                size += info.st_size
        self._hashed_by = max(self._hashed_by, time.monotonic()) + size / HASH_RATE

    def _job_end(self, jobid: int, workflow: Any, *, finished: bool = False) -> float | None:
        """When an unreported job ended, if Snakemake's DAG counts it as finished (under `--quiet progress`
        Snakemake 9 logs no job_finished) or `finished` says so: its newest output's mtime, else now.
        None: it did not finish."""
        if not finished:
            live = self.live_jobs.get(jobid)
            if live is None and workflow is not None:
                live = wi.job_for_id(workflow, jobid)
            if live is None or not wi.is_finished(workflow, live):
                return None
        job = self.jobs[jobid]
        times = []
        for path in mapping.absolute(job.info.output, job.workdir):
            try:
                times.append(os.stat(path).st_mtime)
            except (OSError, ValueError):
                pass
        return max(times) if times else time.time()

    # ---- the end -------------------------------------------------------------------------------
    def close(self) -> None:
        """Finish the workflow run (Snakemake 9 has no workflow-finished event) and flush the ledger, waiting
        at most `settings.wait` seconds (a ledger locked for long must not hold Snakemake)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            try:
                if not self._not_executing():
                    self._finish()
            except Exception as error:
                self.warn.failed("finishing the workflow run", error)
        self._close_recorder()

    def _finish(self) -> None:
        workflow_errors = [note.error for note in self.errors if not note.consumed]
        if self.run_uid is None and not (workflow_errors and self._workflow_known()):
            return  # nothing ran: dry run, up to date, or a listing command
        self._ensure_workflow_run()
        if self.run_uid is None:
            return
        now = time.time()
        workflow = wi.live_workflow()
        failed_before_running = self._failed_before_running()
        for jobid in list(self.jobs):  # neither finished nor failed as far as the events told
            ended = self._job_end(jobid, workflow)
            if ended is not None:
                self._record_job(jobid, RunStatus.COMPLETED, ended)
            elif jobid in failed_before_running:  # Snakemake failed it without a job_error
                error = failed_before_running[jobid]
                self._record_job(jobid, RunStatus.ERRORED, error.time or now, error=error.msg)
            else:  # cut short
                self._record_job(jobid, RunStatus.ABORTED, now, error="the workflow ended before this job finished")
        outcome = mapping.workflow_outcome(
            interrupted=self.interrupted, errors=workflow_errors, counts=self.counts, incomplete=self._broken
        )
        self._mark_deleted_temp_outputs()
        report = self.logfile if self.logfile and os.path.isfile(self.logfile) else None
        self.recorder.finish_run(
            self.run_uid, status=outcome.status, finished_at=now, error=outcome.error, json=outcome.json, report=report
        )

    def _close_recorder(self) -> None:
        wait = self._wait_budget()
        try:
            finished = self.recorder.close(timeout=wait)
        except Exception as error:  # BackgroundRecorder never raises; any other recorder must not reach Snakemake
            self.warn.failed("closing the ledger", error)
            return
        if not finished:
            self.warn(
                recording_failed(
                    f"gave up waiting for the ledger {self.ledger_path()} after {wait:.3g} s: locked by another "
                    "process, or slow to hash"
                )
            )

    def ledger_path(self) -> str:
        """The ledger file, as the recorder resolves it (for the warning)."""
        try:
            return str(resolve_ledger_path(self.settings.db))
        except Exception:
            return str(self.settings.db or "(the default ledger)")

    def _failed_before_running(self) -> dict[int, Error]:
        """Open jobs that an error names ("WorkflowError in rule b ...", a missing input, say), logged by the
        thread that logged the job's job_info, with that job's job_info its latest: {jobid: error}."""
        found: dict[int, Error] = {}
        for note in self.errors:
            jobid = note.last_job
            job = self.jobs.get(jobid) if jobid is not None and not note.consumed else None
            named = job is not None and f"rule {job.info.rule}" in note.error.msg
            if jobid is not None and named and not note.error.is_interrupt:
                found.setdefault(jobid, note.error)
        return found

    def _mark_deleted_temp_outputs(self) -> None:
        """temp() outputs that Snakemake deleted: told again to the run that made them, now that they are
        gone, so that their artifacts (hashed before the deletion) are marked deleted."""
        for path, uid in sorted(self.temp_makers.items()):
            if not os.path.lexists(path):
                self.recorder.add_outputs(uid, [path])

    def _workflow_known(self) -> bool:
        """An error is a failed invocation of a workflow only once Snakemake got as far as one."""
        return self.started is not None if self.snakemake_major >= 9 else wi.live_workflow() is not None
