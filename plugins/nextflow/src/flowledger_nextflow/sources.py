"""What a launch dir says about its runs, for the importer: `.nextflow/history` (which runs there were),
`.nextflow.log` (versions, work dir, task lines), the `manifest` of `nextflow.config`, and the trace file
that belongs to a run (or, failing one, the task lines of its log). Reads only; the `Tracker` writes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from . import formats
from .errors import NextflowError
from .facts import RunFacts, command_option, params_from_command
from .history import HistoryEntry, read_history
from .logfile import LogRun
from .task import Task, TaskStatus
from .trace import candidate_trace_files, read_trace
from .workdir import find_workdir

_MANIFEST = re.compile(r"^\s*manifest\s*\{(.*?)^\s*\}", re.S | re.M)
_SETTING = re.compile(r"^\s*(name|version)\s*=\s*(['\"])(.*?)\2", re.M)
_DOTTED = re.compile(r"^\s*manifest\.(name|version)\s*=\s*(['\"])(.*?)\2", re.M)
_SCRIPT_ID = re.compile(r"[0-9a-f]{32}")


def launch_history(launch_dir: Path, *, required: bool = True) -> list[HistoryEntry]:
    """The runs `.nextflow/history` lists; NextflowError if there is none and it is `required`."""
    path = launch_dir / ".nextflow" / "history"
    if not path.exists():
        if required:
            raise NextflowError(
                f"{launch_dir} has no .nextflow/history: is it the folder `nextflow run` was started in?"
            )
        return []
    return read_history(path)


def read_manifest(*folders: str | Path | None) -> tuple[str | None, str | None]:
    """(name, version) from the `manifest` scope of the first readable `nextflow.config`."""
    for folder in folders:
        if not folder:
            continue
        try:
            text = (Path(folder) / "nextflow.config").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found: dict[str, str] = {}
        for block in _MANIFEST.findall(text):
            for key, _, value in _SETTING.findall(block):
                found.setdefault(key, value)
        for key, _, value in _DOTTED.findall(text):
            found.setdefault(key, value)
        if found:
            return found.get("name"), found.get("version")
    return None, None


def facts_from_files(launch_dir: Path, entry: HistoryEntry | None, log: LogRun | None, run_name: str) -> RunFacts:
    """What the history line, the log and the pipeline's manifest say about run `run_name`."""
    facts = RunFacts(run_name=run_name, launch_dir=str(launch_dir))
    if entry:
        facts.session_id = entry.session_id
        facts.command_line = entry.command
        revision = entry.revision or ""
        if _SCRIPT_ID.fullmatch(revision):
            facts.script_id = revision
        elif revision:
            facts.commit_id = revision
        facts.start = entry.timestamp
        facts.duration_ms = entry.duration_ms
        if entry.timestamp and entry.duration_ms is not None and entry.success is not None:
            facts.complete = entry.timestamp + timedelta(milliseconds=entry.duration_ms)
        facts.success = entry.success
    if log:
        facts.session_id = facts.session_id or log.session_id
        facts.command_line = facts.command_line or log.command
        facts.nextflow_version = log.version
        facts.work_dir = log.work_dir
        facts.error_report = log.error_report
    facts.params = params_from_command(facts.command_line)
    facts.profile = command_option(facts.command_line, "-profile")
    facts.revision = command_option(facts.command_line, "-r", "-revision")
    facts.pipeline_name, facts.pipeline_version = read_manifest(launch_dir)
    return facts


def run_tasks(
    facts: RunFacts, launch_dir: Path, log: LogRun | None, trace_file: str | os.PathLike[str] | None = None
) -> tuple[str | None, list[Task]]:
    """(trace file, tasks) of the run: from `trace_file`, else the launch dir's trace file of this run, else
    the task lines of its log (trace file None); NextflowError if none of them has its tasks."""
    if trace_file:
        return str(trace_file), read_trace(trace_file)
    unreadable: list[str] = []
    path, tasks = _choose_trace(candidate_trace_files(launch_dir), facts, log, unreadable)
    if path:
        return str(path), tasks
    if log and (log.completed or log.cached):
        return None, _log_tasks(log, facts.work_dir)
    skipped = f" (skipped: {'; '.join(unreadable)})" if unreadable else ""
    raise NextflowError(
        f"no trace file of run {facts.run_name!r} in {launch_dir}{skipped} and no task lines in its .nextflow.log: "
        f'run Nextflow with `-c "$(flowledger nextflow config)"` (or -with-trace) to record its tasks'
    )


def _choose_trace(
    candidates: list[Path], facts: RunFacts, log: LogRun | None, unreadable: list[str]
) -> tuple[Path | None, list[Task]]:
    """The trace file of this run: the one sharing its task hashes (log), else written within its time.
    Files that are not trace files are skipped, their faults appended to `unreadable`."""
    hashes = set(log.submitted) | set(log.cached) if log else set()
    window = None
    if facts.start is not None:
        end = facts.complete or (facts.start + timedelta(days=30))
        window = (facts.start - timedelta(seconds=5), end + timedelta(seconds=60))
    best, best_score, best_tasks = None, 0.0, []
    for path in candidates:
        try:
            tasks = read_trace(path)
        except NextflowError as exc:
            unreadable.append(str(exc))
            continue
        if not tasks:
            continue
        if log and hashes:  # a resumed run shares hashes with the original: CACHED rows must be its cache hits
            agree = sum(t.hash in hashes and t.cached == (t.hash in log.cached) for t in tasks)
            score = agree / max(len(tasks), len(hashes))
        elif window:
            times = [t.submit for t in tasks if t.submit]
            score = (sum(window[0] <= s <= window[1] for s in times) / len(times)) if times else 0.0
        else:
            score = 0.0
        if score > best_score:
            best, best_score, best_tasks = path, score, tasks
    return (best, best_tasks) if best_score >= 0.5 else (None, [])


def _log_tasks(log: LogRun, work_dir: str | None) -> list[Task]:
    """Tasks from `Task completed > TaskHandler[...]` and `Cached process >` lines (no trace file)."""
    tasks = []
    for item in log.completed:
        exit_code = formats.exit_code(item.get("exit"))
        status = item.get("status", TaskStatus.COMPLETED)
        if status == TaskStatus.COMPLETED and exit_code not in (None, 0):
            status = TaskStatus.FAILED  # the log says COMPLETED with a non-zero exit for failed tasks
        workdir = item.get("workDir")
        parts = (workdir or "").rstrip("/").split("/")
        short = f"{parts[-2]}/{parts[-1][:6]}" if len(parts) >= 2 else None
        tasks.append(
            Task(
                task_id=formats.integer(item.get("id")),
                name=item.get("name"),
                status=status,
                hash=short,
                exit=exit_code,
                workdir=workdir,
            )
        )
    next_id = max((t.task_id or 0 for t in tasks), default=0)
    for short, name in log.cached.items():
        next_id += 1
        tasks.append(
            Task(
                task_id=next_id, name=name, status=TaskStatus.CACHED, hash=short, workdir=find_workdir(work_dir, short)
            )
        )
    return tasks


def output_folders(facts: RunFacts, launch_dir: Path, extra: Sequence[str] = ()) -> list[str]:
    """Where publishDir may have put files: given folders, the run's outputDir, params.outdir, ./results."""
    folders = [str(Path(f).absolute()) for f in extra if f]
    for candidate in (facts.output_dir, (facts.params or {}).get("outdir"), "results"):
        if isinstance(candidate, str) and candidate:
            path = Path(candidate)
            folders.append(str(path if path.is_absolute() else launch_dir / path))
    return list(dict.fromkeys(folders))
