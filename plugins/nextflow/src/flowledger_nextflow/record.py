"""How a Nextflow run and its tasks become flowledger Runs: the one mapping both the importer and the
live receiver use, so the lineage they record agrees.

Uids are derived from Nextflow's own ids (session id, run name, task id), so recording the same run
twice (live, then by the onComplete hook or an import) finds the runs already there.
"""

import hashlib
import os
from datetime import datetime, timedelta, timezone

from flowledger.plugin_api import TransformSpec

from .runinfo import RunInfo
from .task import Task
from .workdir import WorkDir

RUN_REFERENCE_TYPE = "nextflow_id"
TASK_REFERENCE_TYPE = "nextflow_task_hash"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MAX_SCRIPT = 20_000
MAX_ERROR = 4_000


def _uid(*parts) -> str:
    number = int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest(), "big")
    out = []
    for _ in range(16):
        number, rest = divmod(number, 62)
        out.append(_BASE62[rest])
    return "".join(out)


def run_uid(info: RunInfo) -> str:
    return _uid("nextflow-run", info.session_id or "", info.run_name)


def task_uid(info: RunInfo, task: Task) -> str:
    return _uid("nextflow-task", info.session_id or "", info.run_name, task.task_id, task.hash or "")


def pipeline_spec(info: RunInfo) -> TransformSpec:
    return TransformSpec(name=info.transform_name, type="pipeline", version=info.transform_version,
                         reference=info.repository, reference_type="git" if info.repository else None)


def process_spec(info: RunInfo, task: Task) -> TransformSpec:
    """One Transform per process, named `<pipeline>:<fully qualified process>` so that equally named
    processes of different pipelines stay apart; versioned with the pipeline."""
    return TransformSpec(name=f"{info.transform_name}:{task.process_name}", type="process",
                         version=info.transform_version)


def run_json(info: RunInfo) -> dict:
    data = {
        "session_id": info.session_id, "command_line": info.command_line, "params": info.params or None,
        "profile": info.profile, "revision": info.revision, "commit_id": info.commit_id,
        "repository": info.repository, "script_id": info.script_id, "nextflow_version": info.nextflow_version,
        "launch_dir": info.launch_dir, "project_dir": info.project_dir, "work_dir": info.work_dir,
        "output_dir": info.output_dir, "resume": info.resume, "success": info.success,
        "exit_status": info.exit_status, "error_message": info.error_message,
        "duration_ms": info.duration_ms,
    }
    return {k: v for k, v in data.items() if v not in (None, {}, "")}


def start_kwargs(info: RunInfo) -> dict:
    return dict(reference=info.run_name, reference_type=RUN_REFERENCE_TYPE, started_at=info.start,
                json=run_json(info), uid=run_uid(info), status="started")


def finish_kwargs(info: RunInfo) -> dict:
    status = "completed" if info.success else "errored"
    error = None
    if not info.success:
        error = (info.error_message or info.error_report or "the Nextflow run failed")[:MAX_ERROR]
    return dict(status=status, finished_at=info.complete, exit_code=info.exit_status, error=error,
                json=run_json(info))


def _read(path: str | None, limit: int) -> str | None:
    if not path:
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(limit)
    except OSError:
        return None


def _mtime(folder: str | None, name: str):
    try:
        return datetime.fromtimestamp(os.stat(os.path.join(folder, name)).st_mtime, timezone.utc)
    except (OSError, TypeError):
        return None


def task_times(task: Task):
    """(started_at, finished_at): the trace's start/complete; else `.command.begin` / `.exitcode` mtimes
    (what the task script touches when it starts and writes when it ends); else submit + duration."""
    started = task.start or (_mtime(task.workdir, ".command.begin") if task.status != "CACHED" else None)
    finished = task.complete or (_mtime(task.workdir, ".exitcode") if task.status != "CACHED" else None)
    started = started or task.submit
    duration = task.resources.get("duration")
    if finished is None and task.submit is not None and duration is not None:
        finished = task.submit + timedelta(milliseconds=duration)
    return started, finished


def task_job(info: RunInfo, task: Task, wd: WorkDir | None, problem: str | None = None) -> dict:
    """Keyword arguments for `Recorder.record_job` of one finished (or cached) task."""
    status = task.run_status
    data = {
        "task_id": task.task_id, "name": task.name, "process": task.process_name, "tag": task.tag,
        "hash": task.full_hash, "workdir": task.workdir, "attempt": task.attempt, "native_id": task.native_id,
        "nextflow_status": task.status, "error_action": task.error_action, "resources": task.resources or None,
        "container": task.container or (wd.container if wd else None),
    }
    script = task.script or (_read(wd.script_file, MAX_SCRIPT) if wd else None)
    if script:
        data["script"] = script.strip("\n")
    if problem:
        data["io_unavailable"] = problem
    if wd:
        data["staged_inputs"] = {i.name: i.mode for i in wd.inputs}
    error = None
    if status == "errored":
        err = _read(os.path.join(task.workdir, ".command.err"), 1 << 20) if task.workdir else None
        tail = (err or "").strip()[-MAX_ERROR:]
        error = tail or (f"exit status {task.exit}" if task.exit is not None else task.status)
    started, finished = task_times(task)
    container = data["container"]
    return dict(
        inputs=[i.source for i in wd.inputs] if wd else [],
        outputs=list(wd.outputs) if wd else [],
        initiated_by=run_uid(info), reference=task.hash, reference_type=TASK_REFERENCE_TYPE,
        status=status, started_at=started, finished_at=finished,
        json={k: v for k, v in data.items() if v not in (None, "", {})},
        exit_code=task.exit, error=error, uid=task_uid(info, task),
        environment_reference=f"docker://{container}" if container and "://" not in container else container,
    )


def finish_task(recorder, uid: str, job: dict) -> None:
    """Finish a task run that was started earlier (live, maybe by another recorder): its files, then its
    final status, from the `task_job` keyword arguments."""
    if job["inputs"]:
        recorder.add_inputs(uid, job["inputs"])
    if job["outputs"]:
        recorder.add_outputs(uid, job["outputs"])
    recorder.finish_run(uid, status=job["status"], finished_at=job["finished_at"], exit_code=job["exit_code"],
                        error=job["error"], json=job["json"])
