"""One normalised task record, whether it came from a weblog `trace` or a trace-file row.

The live receiver and the importer both build a `Task` and hand it to the same recording code, which is
what makes the lineage they record agree.
"""

from dataclasses import dataclass, field
from datetime import datetime

from . import values

# Resource keys kept in the run's json (raw values: ms, bytes, percent); everything else is dropped.
RESOURCE_KEYS = (
    "cpus", "memory", "disk", "time", "duration", "realtime", "%cpu", "%mem", "rss", "vmem", "peak_rss",
    "peak_vmem", "rchar", "wchar", "syscr", "syscw", "read_bytes", "write_bytes", "vol_ctxt", "inv_ctxt",
    "cpu_model", "queue", "accelerator", "accelerator_type",
)
_MS_KEYS = {"time", "duration", "realtime"}
_BYTE_KEYS = {"memory", "disk", "rss", "vmem", "peak_rss", "peak_vmem", "rchar", "wchar", "read_bytes", "write_bytes"}
_PCT_KEYS = {"%cpu", "%mem"}

STATUS_MAP = {  # Nextflow task status -> flowledger run status
    "COMPLETED": "completed",
    "FAILED": "errored",
    "ABORTED": "aborted",
    "CACHED": "cached",
    "SUBMITTED": "scheduled",
    "NEW": "scheduled",
    "RUNNING": "started",
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
    resources: dict = field(default_factory=dict)

    @property
    def run_status(self) -> str:
        return STATUS_MAP.get((self.status or "").upper(), "errored" if self.exit else "completed")

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


def from_fields(raw: dict, *, times_as_text: bool = False) -> Task:
    """Build a Task from a weblog `trace` dict (raw values) or a trace-file row (raw or human text)."""
    when = values.local_datetime if times_as_text else values.epoch_ms

    def time_of(key):
        value = raw.get(key)
        if times_as_text and isinstance(value, str) and value.strip().isdigit():
            return values.epoch_ms(value)  # `trace.raw = true` files hold epoch ms
        return when(value)

    resources = {}
    for key in RESOURCE_KEYS:
        value = raw.get(key)
        if values.is_missing(value):
            continue
        if key in _MS_KEYS:
            value = values.duration_ms(value)
        elif key in _BYTE_KEYS:
            value = values.memory_bytes(value)
        elif key in _PCT_KEYS:
            value = values.percent(value)
        elif key == "cpus":
            value = values.integer(value)
        if value is not None:
            resources[key] = value
    return Task(
        task_id=values.integer(raw.get("task_id")),
        name=values.text(raw.get("name")),
        status=(values.text(raw.get("status")) or "").upper() or None,
        hash=values.text(raw.get("hash")),
        process=values.text(raw.get("process")),
        tag=values.text(raw.get("tag")),
        exit=values.exit_code(raw.get("exit")),
        attempt=values.integer(raw.get("attempt")),
        submit=time_of("submit"),
        start=time_of("start"),
        complete=time_of("complete"),
        workdir=values.text(raw.get("workdir")),
        native_id=values.text(raw.get("native_id")),
        error_action=values.text(raw.get("error_action")),
        script=values.text(raw.get("script")),
        container=values.text(raw.get("container")),
        resources=resources,
    )
