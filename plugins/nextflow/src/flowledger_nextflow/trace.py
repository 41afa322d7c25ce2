"""Read a `-with-trace` file (TAB separated, header + one row per finished task; raw or human values)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from .errors import NextflowError
from .task import Task, from_fields
from .workdir import read_limited

# What `flowledger nextflow config` asks Nextflow to write (order kept: it is the file's column order).
TRACE_FIELDS = (
    "task_id",
    "hash",
    "native_id",
    "process",
    "tag",
    "name",
    "status",
    "exit",
    "attempt",
    "error_action",
    "submit",
    "start",
    "complete",
    "duration",
    "realtime",
    "workdir",
    "container",
    "cpus",
    "memory",
    "time",
    "%cpu",
    "peak_rss",
    "peak_vmem",
    "rchar",
    "wchar",
)


MAX_TRACE = 512 * 1024 * 1024  # bytes of a trace file read


def read_trace(path: str | os.PathLike[str]) -> list[Task]:
    path = Path(path)
    try:
        data = read_limited(path, MAX_TRACE, follow=True)
        rows = list(
            csv.reader(
                io.StringIO(data.decode("utf-8", errors="replace"), newline=""), delimiter="\t", quoting=csv.QUOTE_NONE
            )
        )
    except OSError as exc:
        raise NextflowError(f"cannot read trace file {path}: {exc.strerror or exc}") from None
    except csv.Error as exc:
        raise NextflowError(f"{path} is not a readable trace file: {exc}") from None
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    if "task_id" not in header and "hash" not in header:
        raise NextflowError(f"{path} is not a Nextflow trace file (no 'task_id' or 'hash' column in its header)")
    tasks = []
    for number, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise NextflowError(f"{path}, line {number}: {len(row)} columns, the header has {len(header)}")
        tasks.append(from_fields(dict(zip(header, row)), times_as_text=True))
    return tasks


def candidate_trace_files(launch_dir: str | os.PathLike[str]) -> list[Path]:
    """Trace files Nextflow may have written for runs launched in `launch_dir`, newest first."""
    launch_dir = Path(launch_dir)
    found: set[Path] = set()
    for pattern in (
        "trace*.txt",
        ".nextflow/flowledger/trace*.txt",
        "*/pipeline_info/*trace*.txt",
        "pipeline_info/*trace*.txt",
    ):
        found.update(p for p in launch_dir.glob(pattern) if p.is_file())
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)
