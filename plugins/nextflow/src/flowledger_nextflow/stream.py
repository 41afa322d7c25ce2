"""Weblog events, in the order Nextflow sent them, each handed to the `Tracker` of its run (the receiver's
worker calls `EventStream.handle`).

`process_started` starts a task run; `process_completed` records its end with the inputs and outputs of
its work dir; `completed` adds the cached tasks of a `-resume` (which the weblog never sends) from the trace
file, links published files, and finishes the workflow run. Both failure orders are handled: `error`
before `completed` (Nextflow <= 25.04) or after it (>= 25.10), with or without trace.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from flowledger.plugin_api import RecorderAPI, print_warning

from . import formats
from .errors import NextflowError
from .events import Event
from .facts import RunFacts, from_workflow
from .logfile import find_log_run, read_log_runs
from .sources import output_folders, read_manifest, run_tasks
from .tracker import Tracker


class EventStream:
    """Routes the events of any number of runs to one Tracker each. Use from one thread."""

    def __init__(self, recorder: RecorderAPI, *, warn: Callable[[str], None] = print_warning) -> None:
        self.recorder = recorder
        self.warn = warn
        self.trackers: dict[tuple[str, str], Tracker] = {}  # (session id, run name) -> its Tracker

    def handle(self, event: Event) -> None:
        tracker = self._tracker(event)
        if event.kind == "process_started" and event.task is not None:
            tracker.task_started(event.task)
        elif event.kind == "process_completed" and event.task is not None:
            tracker.tasks_ended([event.task])
        elif event.kind == "error":
            tracker.errored()
        elif event.kind == "completed":
            self._completed(tracker, event)
        # `started` and `process_submitted` tell nothing beyond the run itself

    def _tracker(self, event: Event) -> Tracker:
        key = (event.run_id, event.run_name)
        tracker = self.trackers.get(key)
        facts = from_workflow(event.workflow) if event.workflow is not None else None
        if tracker is None:
            tracker = Tracker(self.recorder, facts or self._guess_facts(event), warn=self.warn)
            self.trackers[key] = tracker
            tracker.begin()
        elif facts is not None:
            tracker.update(facts)
        return tracker

    def _guess_facts(self, event: Event) -> RunFacts:
        """A run whose `started` we missed (the receiver came up late): work out what we can."""
        facts = RunFacts(run_name=event.run_name, session_id=event.run_id)
        # it began by its first task we hear of (not now: a run cannot end before it began)
        task = event.task
        facts.start = (task.submit or task.start if task else None) or formats.offset_datetime(event.utc_time)
        workdir = task.workdir if task else None
        if workdir:
            work = Path(workdir).parent.parent
            facts.work_dir, facts.launch_dir = str(work), str(work.parent)
            facts.pipeline_name, facts.pipeline_version = read_manifest(work.parent)
        self.warn(
            f"flowledger: Nextflow run {event.run_name!r}: events arrived without its 'started' event; "
            f"recording it anyway"
        )
        return facts

    def _completed(self, tracker: Tracker, event: Event) -> None:
        facts = tracker.facts
        launch = Path(facts.launch_dir or ".")
        stats = event.workflow.get("stats", {}) if event.workflow else {}
        if facts.resume or (isinstance(stats, dict) and stats.get("cachedCount")):
            try:  # the weblog never sends cached tasks: take them from the trace file
                log = find_log_run(read_log_runs(launch), facts.run_name)
                _, tasks = run_tasks(facts, launch, log)
                tracker.tasks_ended(task for task in tasks if task.cached)
            except NextflowError as exc:
                self.warn(
                    f"flowledger: the cached tasks of resumed Nextflow run {facts.run_name!r} could not be "
                    f"recorded: {exc}"
                )
        # only published files inside the run's own launch dir are read (never outputDir=/usr)
        root = os.path.realpath(launch)
        folders = [f for f in output_folders(facts, launch) if facts.launch_dir and _inside(os.path.realpath(f), root)]
        for folder in set(output_folders(facts, launch)) - set(folders):
            self.warn(f"flowledger: Nextflow run {facts.run_name!r}: {folder} is outside its launch dir; not read")
        tracker.link_published(folders)
        if facts.success is None:
            facts.success = bool(event.workflow and event.workflow.get("success"))
        tracker.finish()
        tracker.report_problems()


def _inside(path: str, root: str) -> bool:
    return root != "/" and (path == root or path.startswith(root.rstrip("/") + "/"))
