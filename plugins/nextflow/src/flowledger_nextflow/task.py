"""One normalised task record, whether it came from a weblog `trace` or a trace-file row.

The live receiver and the importer both build a `Task` and hand it to the same `Tracker`, which is what
makes the lineage they record agree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flowledger.plugin_api import RunStatus

from . import formats

# Resource keys kept in the run's json (raw values: ms, bytes, percent); everything else is dropped.
RESOURCE_KEYS = (
    "cpus",
    "memory",
    "disk",
    "time",
    "duration",
    "realtime",
    "%cpu",
    "%mem",
    "rss",
    "vmem",
    "peak_rss",
    "peak_vmem",
    "rchar",
    "wchar",
    "syscr",
    "syscw",
    "read_bytes",
    "write_bytes",
    "vol_ctxt",
    "inv_ctxt",
    "cpu_model",
    "queue",
    "accelerator",
    "accelerator_type",
)
_MS_KEYS = {"time", "duration", "realtime"}
_BYTE_KEYS = {"memory", "disk", "rss", "vmem", "peak_rss", "peak_vmem", "rchar", "wchar", "read_bytes", "write_bytes"}
_PCT_KEYS = {"%cpu", "%mem"}


class TaskStatus(enum.StrEnum):
    """Nextflow's word for where a task is (trace `status`, upper case); not flowledger's `RunStatus`."""

    NEW = "NEW"
    SUBMITTED = "SUBMITTED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"
    CACHED = "CACHED"  # a `-resume` cache hit (trace file and log only; the weblog never sends them)


RUN_STATUS: dict[str, RunStatus] = {  # Nextflow task status -> flowledger run status
    TaskStatus.NEW: RunStatus.SCHEDULED,
    TaskStatus.SUBMITTED: RunStatus.SCHEDULED,
    TaskStatus.RUNNING: RunStatus.STARTED,
    TaskStatus.COMPLETED: RunStatus.COMPLETED,
    TaskStatus.FAILED: RunStatus.ERRORED,
    TaskStatus.ABORTED: RunStatus.ABORTED,
    TaskStatus.CACHED: RunStatus.CACHED,
}


@dataclass
class Task:
    task_id: int | None
    name: str | None
    status: str | None  # Nextflow's word, upper case
    hash: str | None = None  # short form `ab/cdef12`
    process: str | None = None
    tag: str | None = None
    exit: int | None = None
    attempt: int | None = None
    submit: datetime | None = None
    start: datetime | None = None
    complete: datetime | None = None
    workdir: str | None = None
    native_id: str | None = None
    error_action: str | None = None
    script: str | None = None
    container: str | None = None
    resources: dict[str, Any] = field(default_factory=dict)

    @property
    def run_status(self) -> RunStatus:
        """flowledger's status of this task; an unknown Nextflow word goes by the exit code."""
        status = RUN_STATUS.get((self.status or "").upper())
        if status is None:
            return RunStatus.ERRORED if self.exit else RunStatus.COMPLETED
        return status

    @property
    def cached(self) -> bool:
        return self.status == TaskStatus.CACHED

    @property
    def process_name(self) -> str:
        """Fully qualified process name: trace `process`, else the task name without ` (tag)`."""
        if self.process:
            return self.process
        name = self.name or "unknown"
        if self.tag and name.endswith(f" ({self.tag})"):
            return name[: -len(self.tag) - 3]
        if name.endswith(")") and " (" in name:
            return name.rsplit(" (", 1)[0]
        return name

    @property
    def full_hash(self) -> str | None:
        """The 32-hex hash, from the work dir's last two components (`.../ab/cdef...`)."""
        if self.workdir:
            parts = self.workdir.rstrip("/").split("/")
            if len(parts) >= 2 and len(parts[-2]) == 2:
                return parts[-2] + parts[-1]
        return self.hash.replace("/", "") if self.hash else None


def from_fields(raw: dict[str, Any], *, times_as_text: bool = False) -> Task:
    """Build a Task from a weblog `trace` dict (raw values) or a trace-file row (raw or human text)."""
    when = formats.local_datetime if times_as_text else formats.epoch_ms

    def time_of(key: str) -> datetime | None:
        value = raw.get(key)
        if times_as_text and isinstance(value, str) and value.strip().isdigit():
            return formats.epoch_ms(value)  # `trace.raw = true` files hold epoch ms
        return when(value)

    resources = {}
    for key in RESOURCE_KEYS:
        value = raw.get(key)
        if formats.is_missing(value):
            continue
        if key in _MS_KEYS:
            value = formats.duration_ms(value)
        elif key in _BYTE_KEYS:
            value = formats.memory_bytes(value)
        elif key in _PCT_KEYS:
            value = formats.percent(value)
        elif key == "cpus":
            value = formats.integer(value)
        if value is not None:
            resources[key] = value
    return Task(
        task_id=formats.integer(raw.get("task_id")),
        name=formats.text(raw.get("name")),
        status=(formats.text(raw.get("status")) or "").upper() or None,
        hash=formats.text(raw.get("hash")),
        process=formats.text(raw.get("process")),
        tag=formats.text(raw.get("tag")),
        exit=formats.exit_code(raw.get("exit")),
        attempt=formats.integer(raw.get("attempt")),
        submit=time_of("submit"),
        start=time_of("start"),
        complete=time_of("complete"),
        workdir=formats.text(raw.get("workdir")),
        native_id=formats.text(raw.get("native_id")),
        error_action=formats.text(raw.get("error_action")),
        script=formats.text(raw.get("script")),
        container=formats.text(raw.get("container")),
        resources=resources,
    )
