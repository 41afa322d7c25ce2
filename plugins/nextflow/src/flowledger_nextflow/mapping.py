"""How a Nextflow run and its tasks become flowledger Runs: the one mapping that the importer and the live
receiver both use (through the `Tracker`), so that the lineage they record agrees. Pure: no I/O; what the
work dirs say comes in as `TaskFiles`, read by `workdir.read_task_files`.

Uids are derived from Nextflow's own ids (session id, run name, task id), so recording the same run twice
(live, then by the onComplete hook or an import) finds the runs already there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flowledger.plugin_api import FinishRun, RecordJob, RunStatus, StartRun, TransformSpec, stable_uid

from . import formats
from .facts import RunFacts
from .task import Task
from .workdir import MAX_SCRIPT, TaskFiles

RUN_REFERENCE_TYPE = "nextflow_id"
TASK_REFERENCE_TYPE = "nextflow_task_hash"
MAX_ERROR = 4_000  # characters of an error kept on the run
MAX_TEXT = 20_000  # characters of any text field (command line, error message, ...) kept in a run's json
MAX_RUN_ERROR_MESSAGE = 2_000  # of a failed run's message taken from its failing task's .command.err

# ---- identity -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)  # a run's uid is asked for once per task, a task's twice in a row
def _stable_uid(*parts: object) -> str:
    """The same Nextflow ids give the same uid in every recorder (the live stream and the importer)."""
    return stable_uid(*parts)


def run_uid(facts: RunFacts) -> str:
    return _stable_uid("nextflow-run", facts.session_id or "", facts.run_name)


def task_uid(facts: RunFacts, task: Task) -> str:
    return _stable_uid("nextflow-task", facts.session_id or "", facts.run_name, task.task_id, task.hash or "")


# ---- the workflow run -----------------------------------------------------------------------------


def pipeline_spec(facts: RunFacts) -> TransformSpec:
    return TransformSpec(
        name=facts.transform_name,
        type="pipeline",
        version=facts.transform_version,
        reference=facts.repository,
        reference_type="git" if facts.repository else None,
    )


def run_json(facts: RunFacts) -> dict[str, Any]:
    data = {
        "session_id": facts.session_id,
        "command_line": facts.command_line,
        "params": facts.params or None,
        "profile": facts.profile,
        "revision": facts.revision,
        "commit_id": facts.commit_id,
        "repository": facts.repository,
        "script_id": facts.script_id,
        "nextflow_version": facts.nextflow_version,
        "launch_dir": facts.launch_dir,
        "project_dir": facts.project_dir,
        "work_dir": facts.work_dir,
        "output_dir": facts.output_dir,
        "resume": facts.resume,
        "success": facts.success,
        "exit_status": facts.exit_status,
        "error_message": facts.error_message,
        "duration_ms": facts.duration_ms,
    }
    return {k: v[:MAX_TEXT] if isinstance(v, str) else v for k, v in data.items() if v not in (None, {}, "")}


def workflow_start(facts: RunFacts) -> StartRun:
    return StartRun(
        pipeline_spec(facts),
        run_uid(facts),
        reference=facts.run_name,
        reference_type=RUN_REFERENCE_TYPE,
        started_at=facts.start,
        json=run_json(facts),
        status=RunStatus.STARTED,
    )


def workflow_finish(facts: RunFacts) -> FinishRun:
    status = RunStatus.COMPLETED if facts.success else RunStatus.ERRORED
    error = None
    if not facts.success:
        error = (facts.error_message or facts.error_report or "the Nextflow run failed")[:MAX_ERROR]
    return FinishRun(
        run_uid(facts),
        status=status,
        finished_at=facts.complete,
        exit_code=facts.exit_status,
        error=error,
        json=run_json(facts),
    )


def workflow_error(facts: RunFacts) -> FinishRun:
    """The weblog's `error` event: the run failed; `completed` may still follow with the details."""
    return FinishRun(run_uid(facts), status=RunStatus.ERRORED, error="the Nextflow run failed (weblog 'error')")


def run_outcome(facts: RunFacts, failed: Sequence[tuple[Task, str | None]]) -> tuple[int | None, str | None]:
    """(exit status, error message) of a run that lacks them: 0 for a success; for a failure, those of the
    task that ended it (what the weblog reports), `failed` being (task, end of its .command.err) pairs."""
    if facts.exit_status is not None or facts.success is None:
        return facts.exit_status, facts.error_message
    if facts.success:
        return 0, facts.error_message
    ending = [f for f in failed if (f[0].error_action or "TERMINATE") in ("TERMINATE", "FINISH")] or list(failed)
    if not ending:
        return None, facts.error_message
    task, err = ending[-1]
    return task.exit, facts.error_message or (err or "").strip()[-MAX_RUN_ERROR_MESSAGE:] or None


# ---- tasks ----------------------------------------------------------------------------------------


def process_spec(facts: RunFacts, task: Task) -> TransformSpec:
    """One Transform per process, named `<pipeline>:<fully qualified process>` so that equally named
    processes of different pipelines stay apart; versioned with the pipeline."""
    return TransformSpec(
        name=f"{facts.transform_name}:{task.process_name}", type="process", version=facts.transform_version
    )


def task_times(task: Task, files: TaskFiles) -> tuple[datetime | None, datetime | None]:
    """(started_at, finished_at): the trace's start/complete; else `.command.begin` / `.exitcode` mtimes
    (what the task script touches when it starts and writes when it ends); else submit + duration."""
    started = task.start or files.began or task.submit
    finished = task.complete or files.ended
    duration = task.resources.get("duration")
    if finished is None and task.submit is not None and duration is not None:
        finished = task.submit + timedelta(milliseconds=duration)
    return started, finished


def task_job(facts: RunFacts, task: Task, files: TaskFiles) -> RecordJob:
    """One finished (or cached) task as a whole job: its files, status, times and json."""
    status = task.run_status
    wd = files.workdir
    container = task.container or (wd.container if wd else None)
    data = {
        "task_id": task.task_id,
        "name": task.name,
        "process": task.process_name,
        "tag": task.tag,
        "hash": task.full_hash,
        "workdir": task.workdir,
        "attempt": task.attempt,
        "native_id": task.native_id,
        "nextflow_status": task.status,
        "error_action": task.error_action,
        "resources": task.resources or None,
        "container": container,
    }
    script = task.script or files.script
    if script:
        data["script"] = script.strip("\n")[:MAX_SCRIPT]
    if files.problem:
        data["io_unavailable"] = files.problem
    if wd:
        data["staged_inputs"] = {i.name: i.mode for i in wd.inputs}
    error = None
    if status is RunStatus.ERRORED:
        tail = (files.error or "").strip()[-MAX_ERROR:]
        error = tail or (f"exit status {task.exit}" if task.exit is not None else task.status)
    started, finished = task_times(task, files)
    return RecordJob(
        process_spec(facts, task),
        task_uid(facts, task),
        inputs=tuple(i.source for i in wd.inputs) if wd else (),
        outputs=tuple(wd.outputs) if wd else (),
        initiated_by=run_uid(facts),
        reference=task.hash,
        reference_type=TASK_REFERENCE_TYPE,
        status=status,
        started_at=started,
        finished_at=finished,
        json={k: v for k, v in data.items() if v not in (None, "", {})},
        exit_code=task.exit,
        error=error,
        environment_reference=f"docker://{container}" if container and "://" not in container else container,
    )


def task_start(job: RecordJob) -> StartRun:
    """A task that is running: the start of `job` (its files and end come with `task_finish`)."""
    return StartRun(
        job.transform,
        job.uid,
        reference=job.reference,
        reference_type=job.reference_type,
        initiated_by=job.initiated_by,
        started_at=job.started_at,
        json=job.json,
        environment_reference=job.environment_reference,
        status=RunStatus.STARTED,
    )


def task_aborted(uid: str) -> FinishRun:
    """A task that started and never ended before its run did."""
    return FinishRun(uid, status=RunStatus.ABORTED, error="no process_completed event before the run ended")


def task_finish(job: RecordJob) -> FinishRun:
    """The end of a task started earlier (its files go first, through `add_inputs` / `add_outputs`)."""
    return FinishRun(
        job.uid, status=job.status, finished_at=job.finished_at, exit_code=job.exit_code, error=job.error, json=job.json
    )


# ---- the onComplete hook's arguments ---------------------------------------------------------------


def _flag(value: object) -> bool | None:
    return None if formats.is_missing(value) else str(value).lower() == "true"


@dataclass(frozen=True)
class HookArg:
    """One value the `workflow.onComplete` handler passes to `flowledger nextflow import`."""

    option: str | None  # the import command's option; None: its LAUNCH_DIR argument
    expression: str  # the Groovy expression whose value the handler passes
    field: str  # the RunFacts field it fills
    parse: Callable[[Any], Any] = formats.text  # "null" (Groovy's null in a string) and "" are None


# The one list of the handler's arguments: `config.py` writes the Groovy from it, `hooks.py` the options
# of `flowledger nextflow import`, and `facts_from_hook` reads the values back.
HOOK_ARGS = (
    HookArg(None, "workflow.launchDir", "launch_dir"),
    HookArg("--run", "workflow.runName", "run_name"),
    HookArg("--session-id", "workflow.sessionId", "session_id"),
    HookArg("--work-dir", "workflow.workDir", "work_dir"),
    HookArg("--success", "workflow.success", "success", _flag),
    HookArg("--exit-status", "workflow.exitStatus", "exit_status", formats.integer),
    HookArg("--error-message", "workflow.errorMessage", "error_message"),
    HookArg("--output-dir", "workflow.outputDir", "output_dir"),
    HookArg("--pipeline-name", "workflow.manifest.name", "pipeline_name"),
    HookArg("--pipeline-version", "workflow.manifest.version", "pipeline_version"),
    HookArg("--nextflow-version", "workflow.nextflow.version", "nextflow_version"),
    HookArg("--command-line", "workflow.commandLine", "command_line"),
    HookArg("--profile", "workflow.profile", "profile"),
    HookArg("--revision", "workflow.revision", "revision"),
    HookArg("--commit-id", "workflow.commitId", "commit_id"),
    HookArg("--repository", "workflow.repository", "repository"),
    HookArg("--script-id", "workflow.scriptId", "script_id"),
)


def facts_from_hook(values: Mapping[str, Any]) -> RunFacts:
    """What the handler passed (keyed by RunFacts field, as received: strings) as RunFacts."""
    parsed = {arg.field: arg.parse(values.get(arg.field)) for arg in HOOK_ARGS}
    return RunFacts(**parsed)
