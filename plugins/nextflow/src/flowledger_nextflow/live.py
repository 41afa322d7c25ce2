"""Record runs from a stream of weblog events, in order, as they happen (the receiver's worker).

`process_started` starts a task Run; `process_completed` finishes it with the inputs and outputs read
from its work dir; `completed` links published files, adds the cached tasks of a `-resume` (which the
weblog never sends) from the trace file, and finishes the workflow Run. Both failure orders are
handled: `error` before `completed` (Nextflow <= 25.04) or after it (>= 25.10), with or without trace.
"""

from dataclasses import dataclass, field
from pathlib import Path

from .errors import NextflowError, print_warning
from .events import Event
from .importer import existing_runs, output_folders, record_tasks
from .logfile import find_log_run, read_log_runs
from .publish import find_published
from .record import (finish_kwargs, finish_task, pipeline_spec, process_spec, run_uid, start_kwargs, task_job,
                     task_uid)
from .runinfo import RunInfo, from_workflow, read_manifest
from .workdir import try_read_workdir


@dataclass
class _LiveRun:
    info: RunInfo
    uid: str
    known: set = field(default_factory=set)  # uids already in the ledger (ours or from before)
    started: set = field(default_factory=set)  # task uids started and not yet finished
    outputs_of: dict = field(default_factory=dict)
    finished: bool = False
    cached_count: int = 0


class LiveRecorder:
    """Turns events into recorder calls. Use from one thread (the receiver's worker)."""

    def __init__(self, recorder, warn=None):
        self.rec = recorder
        self.warn = warn or print_warning
        self.runs: dict[tuple[str, str], _LiveRun] = {}

    def handle(self, event: Event) -> None:
        run = self._run(event)
        if event.kind == "started":
            return
        if event.kind == "process_started":
            self._task_started(run, event)
        elif event.kind == "process_completed":
            self._task_completed(run, event)
        elif event.kind == "error":
            if not run.finished:  # <= 25.04: `completed` follows and finishes it again with the details
                self.rec.finish_run(run.uid, status="errored", error="the Nextflow run failed (weblog 'error')")
        elif event.kind == "completed":
            self._completed(run, event)

    # ---- runs ---------------------------------------------------------------------------------
    def _run(self, event: Event) -> _LiveRun:
        key = (event.run_id, event.run_name)
        run = self.runs.get(key)
        if event.workflow is not None:
            info = from_workflow(event.workflow)
            if run is not None:
                run.info = info.merge(run.info)
        if run is None:
            if event.workflow is None:
                info = self._guess_info(event)
            run = _LiveRun(info=info, uid=run_uid(info))
            run.known = set(existing_runs(self.rec, run.uid))
            self.runs[key] = run
            if run.uid not in run.known:
                self.rec.start_run(pipeline_spec(info), **start_kwargs(info))
                run.known.add(run.uid)
        return run

    def _guess_info(self, event: Event) -> RunInfo:
        """A run whose `started` we missed (the receiver came up late): work out what we can."""
        info = RunInfo(run_name=event.run_name, session_id=event.run_id)
        workdir = event.task.workdir if event.task else None
        if workdir:
            work = Path(workdir).parent.parent
            info.work_dir, info.launch_dir = str(work), str(work.parent)
            info.pipeline_name, info.pipeline_version = read_manifest(work.parent)
        self.warn(f"run {event.run_name!r}: events arrived without its 'started' event; recording it anyway")
        return info

    # ---- tasks --------------------------------------------------------------------------------
    def _task_started(self, run: _LiveRun, event: Event) -> None:
        task = event.task
        uid = task_uid(run.info, task)
        if uid in run.known:
            return
        job = task_job(run.info, task, None)
        if not self._guarded(run, uid, lambda: self.rec.start_run(
                process_spec(run.info, task), reference=job["reference"], reference_type=job["reference_type"],
                initiated_by=run.uid, started_at=job["started_at"], json=job["json"], status="started", uid=uid,
                environment_reference=job["environment_reference"])):
            return
        run.known.add(uid)
        run.started.add(uid)

    def _task_completed(self, run: _LiveRun, event: Event) -> None:
        task = event.task
        uid = task_uid(run.info, task)
        if uid in run.known and uid not in run.started:
            return  # recorded before (a replay, or an import got there first)
        wd, problem = try_read_workdir(task.workdir) if task.workdir else (None, None)
        if problem:
            self.warn(f"task {task.name!r} of run {run.info.run_name!r}: {problem}")
        if wd:
            for path in wd.outputs:
                run.outputs_of[path] = uid
        job = task_job(run.info, task, wd, problem)
        if uid in run.started:
            finish_task(self.rec, uid, job)
            run.started.discard(uid)
        else:
            self._guarded(run, uid, lambda: self.rec.record_job(process_spec(run.info, task), **job))
            run.known.add(uid)

    def _guarded(self, run: _LiveRun, uid: str, write) -> bool:
        """Write a task run; False if an importer (the onComplete hook) recorded it first."""
        try:
            write()
            return True
        except Exception:
            if uid in existing_runs(self.rec, run.uid):
                run.known.add(uid)
                return False
            raise

    # ---- the end ------------------------------------------------------------------------------
    def _completed(self, run: _LiveRun, event: Event) -> None:
        info = run.info
        launch = Path(info.launch_dir or ".")
        stats = event.workflow.get("stats", {}) if event.workflow else {}
        if info.resume or (isinstance(stats, dict) and stats.get("cachedCount")):
            try:  # the weblog never sends cached tasks: take them from the trace file
                log = find_log_run(read_log_runs(launch), info.run_name)
                result = record_tasks(self.rec, info, launch, log, only_cached=True, warn=self.warn)
                run.outputs_of.update(result.outputs_of)
            except NextflowError as exc:
                self.warn(f"run {info.run_name!r} resumed cached tasks that could not be recorded: {exc}")
        for path, uid in find_published(output_folders(info, launch), run.outputs_of):
            self.rec.add_outputs(uid, [path])
        if info.success is None:
            info.success = bool(event.workflow and event.workflow.get("success"))
        self.rec.finish_run(run.uid, **finish_kwargs(info))
        run.finished = True
        for uid in list(run.started):  # started, never completed: the run ended under them
            self.rec.finish_run(uid, status="aborted", error="no process_completed event before the run ended")
        run.started.clear()
