"""Import finished Nextflow runs from a launch dir: `.nextflow/history` says which runs there were, a trace
file (or, failing that, `.nextflow.log`) which tasks ran (`sources.py` reads them), and a `Tracker` records
each run with what each task's work dir says it read and wrote. Idempotent: runs and tasks already in the
ledger are left as they are.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowledger.plugin_api import RecorderAPI, print_warning

from .errors import NextflowError
from .facts import RunFacts
from .history import HistoryEntry, find_entry
from .logfile import LogRun, find_log_run, read_log_runs
from .sources import facts_from_files, launch_history, output_folders, run_tasks
from .tracker import Tracker


@dataclass
class ImportResult:
    run_name: str
    run_uid: str
    recorded: int = 0  # task runs written now
    existing: int = 0  # task runs that were already there
    published: int = 0
    problems: list[str] = field(default_factory=list)
    trace_file: str | None = None

    def summary(self) -> str:
        text = (
            f"{self.run_name}: {self.recorded} task runs recorded, {self.existing} already recorded, "
            f"{self.published} published files linked"
        )
        if self.trace_file:
            text += f" (trace {self.trace_file})"
        return text


def import_run(
    recorder: RecorderAPI,
    launch_dir: str | os.PathLike[str],
    run_name: str,
    *,
    hook_facts: RunFacts | None = None,
    trace_file: str | os.PathLike[str] | None = None,
    output_dirs: Sequence[str] = (),
    history: list[HistoryEntry] | None = None,
    logs: list[LogRun] | None = None,
    warn: Callable[[str], None] = print_warning,
) -> ImportResult:
    """Record one run (workflow run, one run per task, published files) through `recorder`.

    `hook_facts` are what the onComplete handler passed: the run may then be missing from the history yet
    (its line is completed after the handler), and they come before what the files say.
    """
    launch = _launch_dir(launch_dir)
    if history is None:
        history = launch_history(launch, required=hook_facts is None)
    entry = find_entry(history, run_name)
    if entry is None and hook_facts is None:
        raise NextflowError(f"no run named {run_name!r} in {launch / '.nextflow' / 'history'}")
    log = find_log_run(read_log_runs(launch) if logs is None else logs, run_name)
    facts = RunFacts(run_name=run_name)
    if hook_facts:
        facts.merge(hook_facts)
    facts.merge(facts_from_files(launch, entry, log, run_name))
    facts.work_dir = facts.work_dir or str(launch / "work")
    trace_path, tasks = run_tasks(facts, launch, log, trace_file)

    tracker = Tracker(recorder, facts, warn=warn)
    tracker.begin()
    tracker.tasks_ended(tasks)
    tracker.link_published(output_folders(facts, launch, output_dirs))
    if facts.success is not None and not tracker.was_final:  # a run still going is finished by its own end
        tracker.finish()
    tracker.report_problems()
    return ImportResult(
        run_name=run_name,
        run_uid=tracker.uid,
        recorded=tracker.tasks_recorded,
        existing=tracker.tasks_existing,
        published=tracker.files_published,
        problems=tracker.problems,
        trace_file=trace_path,
    )


def import_launch_dir(
    recorder: RecorderAPI, launch_dir: str | os.PathLike[str], run_name: str | None = None, **kwargs: Any
) -> list[ImportResult]:
    """Import one named run, or every run in the history of `launch_dir` (oldest first)."""
    launch = _launch_dir(launch_dir)
    history = launch_history(launch)
    logs = read_log_runs(launch)
    names = [run_name] if run_name else list(dict.fromkeys(e.run_name for e in history))
    return [import_run(recorder, launch, name, history=history, logs=logs, **kwargs) for name in names]


def _launch_dir(launch_dir: str | os.PathLike[str]) -> Path:
    launch = Path(launch_dir).absolute()
    if not launch.is_dir():
        raise NextflowError(f"launch dir {launch} does not exist")
    return launch
