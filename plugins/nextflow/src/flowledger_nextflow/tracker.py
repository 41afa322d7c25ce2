"""The state of one Nextflow run being recorded, and the plugin's only writer.

Both intakes feed a `Tracker`: the live receiver event by event (`stream.py`), the importer with the tasks
of a trace file (`importer.py`). It reads what the ledger already holds of the run, reads each task's work
dir, has `mapping` turn run and tasks into recorder calls, and writes them, so that live and imported
records of a run agree and neither records anything twice:

- a task run already final in the ledger is left alone; one that was started (live) gets its files and end;
- a run that another recorder wrote meanwhile (the onComplete import racing the receiver) is counted as
  existing, not as a failure;
- the tasks of an import go in transactions of `BATCH` (`Recorder.submit_all`: a failing batch is retried
  one by one, so one bad task loses only itself).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flowledger.plugin_api import (
    Call,
    RecorderAPI,
    RecordJob,
    RunStatus,
    StartRun,
    print_warning,
)

from .errors import NextflowError
from .facts import RunFacts
from .mapping import (
    run_outcome,
    run_uid,
    task_aborted,
    task_finish,
    task_job,
    task_start,
    task_uid,
    workflow_error,
    workflow_finish,
    workflow_start,
)
from .publish import find_published
from .task import Task, TaskStatus
from .workdir import read_task_files

BATCH = 200  # task runs per transaction: few commits, and the write lock is held for one batch at most

NewRun = StartRun | RecordJob  # what `_write` writes: runs the ledger does not have yet


def recorded_runs(recorder: RecorderAPI, uid: str) -> dict[str, RunStatus]:
    """{uid: status} of the workflow run `uid` and its task runs, as far as the ledger has them."""
    run = recorder.get_run(uid)
    if run is None:
        return {}
    return {run.uid: run.status, **{task.uid: task.status for task in recorder.runs_under(uid)}}


class Tracker:
    """One Nextflow run: its facts, what of it is in the ledger, and the task outputs seen so far (to find
    the files publishDir made from them). Use from one thread."""

    def __init__(self, recorder: RecorderAPI, facts: RunFacts, *, warn: Callable[[str], None] = print_warning) -> None:
        self.recorder = recorder
        self.facts = facts
        self.uid = run_uid(facts)
        self.warn = warn
        self.statuses = recorded_runs(recorder, self.uid)  # kept up to date with what is written here
        self.was_final = self.uid in self.statuses and self.statuses[self.uid].is_final
        self.started: set[str] = set()  # task runs started here and not ended yet
        self.outputs_of: dict[str, str] = {}  # output path in a work dir -> uid of the task run that made it
        self.failed: list[tuple[Task, str | None]] = []  # failed tasks, with the end of their .command.err
        self.problems: list[str] = []  # why tasks were recorded without files
        self.finished = False
        self.tasks_recorded = self.tasks_existing = self.files_published = 0
        self._reported = 0
        self._errors: list[Exception] = []

    def update(self, facts: RunFacts) -> None:
        """Newer facts about the run (the weblog's `completed` metadata); what they lack is kept."""
        self.facts = facts.merge(self.facts)

    # ---- the workflow run -----------------------------------------------------------------------
    def begin(self) -> None:
        """Record the run as started, unless the ledger has it already."""
        if self.uid not in self.statuses:
            self._write([workflow_start(self.facts)])
            self._raise_errors()

    def errored(self) -> None:
        """The weblog's `error`: mark the run failed now (a later `completed` finishes it with the details)."""
        if not self.finished:
            self.recorder.submit(workflow_error(self.facts))
        self.report_problems()

    def finish(self) -> None:
        """Record how the run ended (its facts say), and abort the task runs it left started."""
        self.facts.exit_status, self.facts.error_message = run_outcome(self.facts, self.failed)
        call = workflow_finish(self.facts)
        self.recorder.submit(call)
        self.statuses[self.uid] = RunStatus(call.status)
        self.finished = True
        for uid in sorted(self.started):
            self.recorder.submit(task_aborted(uid))
            self.statuses[uid] = RunStatus.ABORTED
        self.started.clear()

    def link_published(self, folders: list[str]) -> None:
        """Link the files under `folders` that are copies of (or links to) this run's task outputs."""
        for path, uid in find_published(folders, self.outputs_of):
            self.recorder.add_outputs(uid, [path])
            self.files_published += 1

    def report_problems(self) -> None:
        """One warning for the tasks recorded without files since the last report."""
        new = self.problems[self._reported :]
        self._reported = len(self.problems)
        if new:
            self.warn(
                f"flowledger recorded {len(new)} task(s) of Nextflow run {self.facts.run_name!r} without "
                f"inputs/outputs; first: {new[0]}"
            )

    # ---- tasks ----------------------------------------------------------------------------------
    def task_started(self, task: Task) -> None:
        """A task is running (weblog `process_started`): a started task run, its files come at its end."""
        if task_uid(self.facts, task) in self.statuses:
            return  # recorded before: a replayed stream, or an import got there first
        task, files = read_task_files(task, self.facts.work_dir, finished=False)
        if self._write([task_start(task_job(self.facts, task, files))]):
            self.started.add(task_uid(self.facts, task))
        self._raise_errors()

    def tasks_ended(self, tasks: Iterable[Task]) -> None:
        """Tasks that ended (or were cached), each recorded whole with the files of its work dir; a task run
        that was started earlier gets its files and its end instead. Raises after the others are written
        if some could not be recorded."""
        pending: list[NewRun] = []
        for task in tasks:
            uid = task_uid(self.facts, task)
            task, files = read_task_files(task, self.facts.work_dir)
            if files.problem:
                self.problems.append(files.problem)
            if files.workdir:
                for path in files.workdir.outputs:
                    self.outputs_of[path] = uid
            if task.status == TaskStatus.FAILED:
                self.failed.append((task, files.error))
            status = self.statuses.get(uid)
            if status is None:
                pending.append(task_job(self.facts, task, files))
                if len(pending) >= BATCH:
                    self.tasks_recorded += self._write(pending)
                    pending = []
                continue
            self.tasks_existing += 1
            if not status.is_final:  # started (live, maybe by another recorder): end it here, in order
                self.tasks_recorded += self._write(pending)
                pending = []
                self._end_started(task_job(self.facts, task, files))
        self.tasks_recorded += self._write(pending)
        self._raise_errors()

    def _end_started(self, job: RecordJob) -> None:
        with self.recorder.batch():
            if job.inputs:
                self.recorder.add_inputs(job.uid, job.inputs)
            if job.outputs:
                self.recorder.add_outputs(job.uid, job.outputs)
            self.recorder.submit(task_finish(job))
        self.statuses[job.uid] = RunStatus(job.status)
        self.started.discard(job.uid)

    # ---- writing --------------------------------------------------------------------------------
    def _write(self, calls: list[NewRun]) -> int:
        """Write runs that are new to the ledger; returns how many were written. A run that turns out to be
        there (written meanwhile by another recorder) is counted as existing; other failures are kept for
        `_raise_errors`."""
        if not calls:
            return 0
        failed: set[str] = set()

        def on_error(call: Call, error: Exception) -> None:
            failed.add(call.uid)
            found = self.recorder.get_run(call.uid)
            if found is not None:
                self.statuses[call.uid] = found.status
                self.tasks_existing += isinstance(call, RecordJob)
            else:
                self._errors.append(error)

        self.recorder.submit_all(calls, on_error)
        written = [call for call in calls if call.uid not in failed]
        for call in written:
            self.statuses[call.uid] = RunStatus(call.status)
        return sum(isinstance(call, RecordJob) for call in written)

    def _raise_errors(self) -> None:
        errors, self._errors = self._errors, []
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise NextflowError(
                f"{len(errors)} runs of Nextflow run {self.facts.run_name!r} could not be recorded; "
                f"first: {type(errors[0]).__name__}: {errors[0]}"
            )
