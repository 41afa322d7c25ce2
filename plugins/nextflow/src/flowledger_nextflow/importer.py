"""Import finished Nextflow runs from a launch dir: `.nextflow/history` says which runs there were, a
trace file (or, failing that, `.nextflow.log`) which tasks ran, and each task's work dir what it read
and wrote. Recording is idempotent: runs and tasks already in the ledger are left as they are.
"""

import glob
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from . import values
from .errors import NextflowError
from .history import HistoryEntry, find_entry, read_history
from .logfile import LogRun, find_log_run, read_log_runs
from .publish import find_published
from .record import (finish_kwargs, finish_task, pipeline_spec, process_spec, run_uid, start_kwargs, task_job,
                     task_uid)
from .runinfo import RunInfo, command_option, params_from_command, read_manifest
from .task import Task
from .trace import candidate_trace_files, read_trace
from .workdir import try_read_workdir


@dataclass
class ImportResult:
    run_name: str
    run_uid: str
    recorded: int = 0  # task runs written now
    existing: int = 0  # task runs that were already there
    published: int = 0
    problems: list[str] = field(default_factory=list)
    trace_file: str | None = None
    outputs_of: dict = field(default_factory=dict)  # output path in a work dir -> task run uid

    def summary(self) -> str:
        text = (f"{self.run_name}: {self.recorded} task runs recorded, {self.existing} already recorded, "
                f"{self.published} published files linked")
        if self.trace_file:
            text += f" (trace {self.trace_file})"
        return text


def info_from_files(launch_dir: Path, entry: HistoryEntry | None, log: LogRun | None, run_name: str) -> RunInfo:
    info = RunInfo(run_name=run_name, launch_dir=str(launch_dir))
    if entry:
        info.session_id = entry.session_id
        info.command_line = entry.command
        revision = entry.revision or ""
        if len(revision) == 32 and all(c in "0123456789abcdef" for c in revision):
            info.script_id = revision
        elif revision:
            info.commit_id = revision
        info.start = entry.timestamp
        info.duration_ms = entry.duration_ms
        if entry.timestamp and entry.duration_ms is not None and entry.success is not None:
            info.complete = entry.timestamp + timedelta(milliseconds=entry.duration_ms)
        info.success = entry.success
    if log:
        info.session_id = info.session_id or log.session_id
        info.command_line = info.command_line or log.command
        info.nextflow_version = log.version
        info.work_dir = log.work_dir
        info.error_report = log.error_report
    info.params = params_from_command(info.command_line)
    info.profile = command_option(info.command_line, "-profile")
    info.revision = command_option(info.command_line, "-r", "-revision")
    info.pipeline_name, info.pipeline_version = read_manifest(launch_dir)
    return info


def _log_tasks(log: LogRun, work_dir: str) -> list[Task]:
    """Tasks from `Task completed > TaskHandler[...]` and `Cached process >` lines (no trace file)."""
    tasks = []
    for item in log.completed:
        exit_code = values.exit_code(item.get("exit"))
        status = item.get("status", "COMPLETED")
        if status == "COMPLETED" and exit_code not in (None, 0):
            status = "FAILED"  # the log says COMPLETED with a non-zero exit for failed tasks
        workdir = item.get("workDir")
        parts = (workdir or "").rstrip("/").split("/")
        short = f"{parts[-2]}/{parts[-1][:6]}" if len(parts) >= 2 else None
        tasks.append(Task(task_id=values.integer(item.get("id")), name=item.get("name"), status=status,
                          hash=short, exit=exit_code, workdir=workdir))
    next_id = max((t.task_id or 0 for t in tasks), default=0)
    for short, name in log.cached.items():
        next_id += 1
        tasks.append(Task(task_id=next_id, name=name, status="CACHED", hash=short,
                          workdir=_find_workdir(work_dir, short)))
    return tasks


def _find_workdir(work_dir: str | None, short_hash: str | None) -> str | None:
    if not work_dir or not short_hash or "/" not in short_hash:
        return None
    head, tail = short_hash.split("/", 1)
    found = glob.glob(os.path.join(glob.escape(work_dir), head, glob.escape(tail) + "*"))
    return found[0] if len(found) == 1 else None


def _choose_trace(candidates: list[Path], info: RunInfo, log: LogRun | None,
                  unreadable: list[str]) -> tuple[Path | None, list[Task]]:
    """The trace file of this run: the one sharing its task hashes (log), else written within its time.
    Files that are not trace files are skipped, their faults appended to `unreadable`."""
    hashes = set(log.submitted) | set(log.cached) if log else set()
    window = None
    if info.start is not None:
        end = info.complete or (info.start + timedelta(days=30))
        window = (info.start - timedelta(seconds=5), end + timedelta(seconds=60))
    best, best_score, best_tasks = None, 0.0, []
    for path in candidates:
        try:
            tasks = read_trace(path)
        except NextflowError as exc:
            unreadable.append(str(exc))
            continue
        if not tasks:
            continue
        if hashes:  # a resumed run shares hashes with the original: CACHED rows must be its cache hits
            agree = sum(t.hash in hashes and (t.status == "CACHED") == (t.hash in log.cached) for t in tasks)
            score = agree / max(len(tasks), len(hashes))
        elif window:
            times = [t.submit for t in tasks if t.submit]
            score = (sum(window[0] <= s <= window[1] for s in times) / len(times)) if times else 0.0
        else:
            score = 0.0
        if score > best_score:
            best, best_score, best_tasks = path, score, tasks
    return (best, best_tasks) if best_score >= 0.5 else (None, [])


def collect_tasks(info: RunInfo, launch_dir: Path, log: LogRun | None, trace_file=None) -> tuple[str | None, list[Task]]:
    if trace_file:
        return str(trace_file), read_trace(trace_file)
    unreadable: list[str] = []
    path, tasks = _choose_trace(candidate_trace_files(launch_dir), info, log, unreadable)
    if path:
        return str(path), tasks
    if log and (log.completed or log.cached):
        return None, _log_tasks(log, info.work_dir)
    skipped = f" (skipped: {'; '.join(unreadable)})" if unreadable else ""
    raise NextflowError(
        f"no trace file of run {info.run_name!r} in {launch_dir}{skipped} and no task lines in its .nextflow.log: "
        f"run Nextflow with `-c \"$(flowledger nextflow config)\"` (or -with-trace) to record its tasks")


def import_run(recorder, launch_dir, run_name: str, *, hook_info: RunInfo | None = None, trace_file=None,
               output_dirs=(), history: list[HistoryEntry] | None = None, logs: list[LogRun] | None = None,
               warn=None) -> ImportResult:
    """Record one run (workflow Run + one Run per task + published files) through `recorder`."""
    launch_dir = Path(launch_dir).absolute()
    if not launch_dir.is_dir():
        raise NextflowError(f"launch dir {launch_dir} does not exist")
    if history is None:
        history = _history(launch_dir, required=hook_info is None)
    entry = find_entry(history, run_name)
    if entry is None and hook_info is None:
        raise NextflowError(f"no run named {run_name!r} in {launch_dir / '.nextflow' / 'history'}")
    logs = read_log_runs(launch_dir) if logs is None else logs
    log = find_log_run(logs, run_name)
    info = RunInfo(run_name=run_name)
    if hook_info:
        info.merge(hook_info)
    info.merge(info_from_files(launch_dir, entry, log, run_name))
    info.work_dir = info.work_dir or str(launch_dir / "work")
    return record_tasks(recorder, info, launch_dir, log, trace_file=trace_file, output_dirs=output_dirs, warn=warn)


def record_tasks(recorder, info: RunInfo, launch_dir: Path, log: LogRun | None, *, trace_file=None,
                 output_dirs=(), warn=None, only_cached: bool = False) -> ImportResult:
    trace_path, tasks = collect_tasks(info, launch_dir, log, trace_file)
    if only_cached:
        tasks = [t for t in tasks if t.status == "CACHED"]
    wf_uid = run_uid(info)
    result = ImportResult(run_name=info.run_name, run_uid=wf_uid, trace_file=trace_path)
    existing = existing_runs(recorder, wf_uid)
    already_final = existing.get(wf_uid) in FINAL
    if wf_uid not in existing:
        recorder.start_run(pipeline_spec(info), **start_kwargs(info))
    outputs_of: dict[str, str] = {}
    pending: list = []
    for task in tasks:
        if not task.workdir:
            task.workdir = _find_workdir(info.work_dir, task.hash)
        uid = task_uid(info, task)
        if task.workdir:
            wd, problem = try_read_workdir(task.workdir)
        else:
            wd, problem = None, f"no work dir found for task {task.hash} ({task.name}) under {info.work_dir}"
        if problem:
            result.problems.append(problem)
        if wd:
            for path in wd.outputs:
                outputs_of[path] = uid
        if uid in existing:
            result.existing += 1
            if existing[uid] not in FINAL:  # started live, not finished yet: finish it here, in order
                _flush(recorder, pending, wf_uid, result)
                finish_task(recorder, uid, task_job(info, task, wd, problem))
            continue
        pending.append((uid, process_spec(info, task), task_job(info, task, wd, problem)))
        if len(pending) >= BATCH:
            _flush(recorder, pending, wf_uid, result)
    _flush(recorder, pending, wf_uid, result)
    result.outputs_of = outputs_of
    if info.success is False and info.exit_status is None:
        _describe_failure(info, tasks)
    elif info.success and info.exit_status is None:
        info.exit_status = 0
    if not only_cached:  # else the live receiver links published files and finishes the run itself
        for path, uid in find_published(output_folders(info, launch_dir, output_dirs), outputs_of):
            recorder.add_outputs(uid, [path])
            result.published += 1
        if info.success is not None and not already_final:
            recorder.finish_run(wf_uid, **finish_kwargs(info))
    if warn and result.problems:
        warn(f"{info.run_name}: {len(result.problems)} task(s) recorded without inputs/outputs; first: "
             f"{result.problems[0]}")
    return result


BATCH = 200  # task runs per transaction: fewer commits; the write lock is held for one batch at most


def _flush(recorder, pending: list, wf_uid: str, result: ImportResult) -> None:
    """Record queued task runs in one transaction; if it fails, one by one, so nothing else is lost."""
    if not pending:
        return
    jobs, pending[:] = list(pending), []
    if len(jobs) > 1:
        try:
            with recorder.batch():  # one commit; a failure rolls back the batch and the recorder forgets it
                for _, spec, job in jobs:
                    recorder.record_job(spec, **job)
            result.recorded += len(jobs)
            return
        except Exception:
            pass  # record one by one below, so that one bad task loses nothing else
    for uid, spec, job in jobs:
        try:
            recorder.record_job(spec, **job)
        except Exception:
            if uid in existing_runs(recorder, wf_uid):  # recorded meanwhile (a live receiver)
                result.existing += 1
                continue
            raise
        result.recorded += 1


def _describe_failure(info: RunInfo, tasks: list[Task]) -> None:
    """Exit status and message of a failed run, from its failing task (what the weblog reports)."""
    failed = [t for t in tasks if t.status == "FAILED" and (t.error_action or "TERMINATE") in ("TERMINATE", "FINISH")]
    if not failed:
        failed = [t for t in tasks if t.status == "FAILED"]
    if failed:
        task = failed[-1]
        info.exit_status = task.exit
        if not info.error_message and task.workdir:
            try:
                err = Path(task.workdir, ".command.err").read_text(errors="replace").strip()
            except OSError:
                err = ""
            info.error_message = err[-2000:] or None


def output_folders(info: RunInfo, launch_dir: Path, extra=()) -> list[str]:
    """Where publishDir may have put files: given folders, the run's outputDir, params.outdir, ./results."""
    folders = [str(Path(f).absolute()) for f in extra if f]
    for candidate in (info.output_dir, (info.params or {}).get("outdir"), "results"):
        if isinstance(candidate, str) and candidate:
            path = Path(candidate)
            folders.append(str(path if path.is_absolute() else launch_dir / path))
    unique = []
    for folder in folders:
        if folder not in unique:
            unique.append(folder)
    return unique


FINAL = ("completed", "errored", "aborted", "cached")


def existing_runs(recorder, wf_uid: str) -> dict[str, str]:
    """{uid: status} of the workflow run and its task runs already in the ledger."""
    from flowledger.models import Run

    runs = Run.using(getattr(recorder, "ledger", None))  # None: the default ledger
    found = {r.uid: r.status for r in runs.filter(uid=wf_uid).all()}
    if found:
        found.update({r.uid: r.status for r in runs.filter(initiated_by_run__uid=wf_uid).all()})
    return found


def _history(launch_dir: Path, required: bool = True) -> list[HistoryEntry]:
    path = launch_dir / ".nextflow" / "history"
    if not path.exists():
        if required:
            raise NextflowError(f"{launch_dir} has no .nextflow/history: is it the folder `nextflow run` was "
                                f"started in?")
        return []
    return read_history(path)


def import_launch_dir(recorder, launch_dir, run_name: str | None = None, **kwargs) -> list[ImportResult]:
    """Import one named run, or every run in the history of `launch_dir`."""
    launch_dir = Path(launch_dir).absolute()
    if not launch_dir.is_dir():
        raise NextflowError(f"launch dir {launch_dir} does not exist")
    history = _history(launch_dir)
    logs = read_log_runs(launch_dir)
    names = [run_name] if run_name else list(dict.fromkeys(e.run_name for e in history))
    return [import_run(recorder, launch_dir, name, history=history, logs=logs, **kwargs) for name in names]
