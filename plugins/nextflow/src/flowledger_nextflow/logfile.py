"""Pick what an importer needs out of `.nextflow.log` (and its rotations `.nextflow.log.1` ...).

The log has no year and is rotated after 9 runs, so it is a fallback: the version, the work dir, the
task hashes submitted or cached in a run, and the error report of a failed one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .workdir import read_limited

_LINE = re.compile(r"^(\w{3}-\d\d \d\d:\d\d:\d\d\.\d{3}) \[([^\]]*)\] (\w+)\s+(\S+) - (.*)$")
_SUBMITTED = re.compile(r"^\[([0-9a-f]{2}/[0-9a-f]{6})\] (Submitted|Cached) process > (.*)$")
_COMPLETED = re.compile(r"Task completed > TaskHandler\[(.*)\]\s*$")


@dataclass
class LogRun:
    run_name: str | None = None
    session_id: str | None = None
    version: str | None = None
    command: str | None = None
    work_dir: str | None = None
    submitted: dict[str, str] = field(default_factory=dict)  # short hash -> task name
    cached: dict[str, str] = field(default_factory=dict)
    completed: list[dict[str, str]] = field(
        default_factory=list
    )  # dicts of the `TaskHandler[id: ..; name: ..; ...]` fields
    error_report: str | None = None
    finished: bool = False


def read_log_runs(launch_dir: str | os.PathLike[str]) -> list[LogRun]:
    """Every run found in `.nextflow.log*` of `launch_dir`, oldest first; unreadable files are skipped."""
    launch_dir = Path(launch_dir)
    files = sorted(launch_dir.glob(".nextflow.log*"), key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0)
    runs: list[LogRun] = []
    for path in files:
        try:
            text = read_limited(path, 256 * 1024 * 1024, follow=True).decode("utf-8", errors="replace")
        except OSError:
            continue
        runs.extend(parse_log(text))
    return runs


def parse_log(text: str) -> list[LogRun]:
    runs: list[LogRun] = []
    current: LogRun | None = None
    in_error: list[str] | None = None
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            if in_error is not None:
                in_error.append(line)
            continue
        if in_error is not None and current is not None:
            current.error_report = "\n".join(in_error).strip()
            in_error = None
        _, _thread, _level, logger, msg = m.groups()
        if logger.endswith("Launcher") and msg.startswith("$> "):
            current = LogRun(command=msg[3:])
            runs.append(current)
            continue
        if current is None:
            current = LogRun()
            runs.append(current)
        if "N E X T F L O W" in msg and "version" in msg:
            current.version = msg.rsplit("version", 1)[1].strip()
        elif msg.startswith("Session UUID: "):
            current.session_id = msg.split(": ", 1)[1].strip()
        elif msg.startswith("Run name: "):
            current.run_name = msg.split(": ", 1)[1].strip()
        elif msg.startswith("Work-dir: "):
            current.work_dir = msg.split(": ", 1)[1].split(" [", 1)[0].strip()
        elif msg.startswith("Error executing process >"):
            in_error = [msg]
        elif "Execution complete -- Goodbye" in msg:
            current.finished = True
        elif c := _COMPLETED.search(msg):
            current.completed.append(_handler_fields(c.group(1)))
        else:
            s = _SUBMITTED.match(msg)
            if s:
                (current.submitted if s.group(2) == "Submitted" else current.cached)[s.group(1)] = s.group(3)
    if in_error is not None and current is not None:
        current.error_report = "\n".join(in_error).strip()
    return runs


def find_log_run(runs: list[LogRun], run_name: str) -> LogRun | None:
    for run in reversed(runs):
        if run.run_name == run_name:
            return run
    return None


def _handler_fields(text: str) -> dict[str, str]:
    """`id: 1; name: TRIM (s1); status: COMPLETED; exit: 0; error: -; workDir: /...` as a dict."""
    out = {}
    for part in text.split("; "):
        key, sep, value = part.partition(": ")
        if sep:
            out[key.strip()] = value.strip()
    return out
