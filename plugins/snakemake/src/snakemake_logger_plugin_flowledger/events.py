"""Turn what Snakemake emits into one neutral `Event` shape.

Snakemake 9 sends `logging.LogRecord`s with an `event` attribute; Snakemake 8 calls a handler with plain
dicts keyed by `level`. The field names differ too (`rule_name` vs `name`, `job_id` vs `jobid`). The
tracker should not care which version it talks to, so both are normalised here, and nothing in this
module keeps state or touches the ledger.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any

# Event kinds the tracker understands; everything else is dropped at the door.
WORKFLOW_STARTED = "workflow_started"
RESOURCES_INFO = "resources_info"
RUN_INFO = "run_info"
JOB_INFO = "job_info"
SHELLCMD = "shellcmd"
JOB_FINISHED = "job_finished"
JOB_ERROR = "job_error"
ERROR = "error"
INFO = "info"

LOGFILE_MESSAGE = "Complete log"  # "Complete log(s): PATH" (9) / "Complete log: PATH" (8)
INTERRUPT_MESSAGE = "Terminating processes on user request"  # Ctrl-C; 9 sends no error event for it
PLAIN_MESSAGES = (LOGFILE_MESSAGE, INTERRUPT_MESSAGE)


@dataclass
class Event:
    kind: str
    time: float
    thread: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


_EXIT_STATUS = re.compile(r"non-zero exit status (-?\d+)")
_PROVIDED_CORES = re.compile(r"Provided cores: (\d+)")


def parse_exit_code(text: str | None) -> int | None:
    """Exit status from a CalledProcessError message ("... returned non-zero exit status 3.").

    The last occurrence wins: Snakemake 8 tracebacks of `run:` jobs mention the spawn command first.
    """
    if not text:
        return None
    found = _EXIT_STATUS.findall(str(text))
    return int(found[-1]) if found else None


def parse_job_stats(text: str | None) -> dict[str, int] | None:
    """Snakemake 8's run_info is the job-count table as text ("job  count / ---- / rule  3 / total  11")."""
    stats: dict[str, int] = {}
    for line in str(text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            stats[parts[0]] = int(parts[1])
    return stats or None


def jsonable(value: Any, _depth: int = 0) -> Any:
    """A JSON-safe copy; Snakemake hands over Namedlists, Resources, UUIDs, IOFiles, enums.

    List subclasses with `.items()` (Snakemake's `Resources`, `Namedlist`) become dicts, otherwise
    their names would be lost; anything unknown becomes its `str()`.
    """
    if _depth > 20:
        return str(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return str(value)  # IOFile, StrEnum -> plain str
    if isinstance(value, dict):
        return {str(k): jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = getattr(value, "items", None)
        if callable(items) and not isinstance(value, (tuple, set, frozenset)):
            try:
                named = list(items())
            except Exception:
                named = None
            if named:
                return {str(k): jsonable(v, _depth + 1) for k, v in named}
        seq = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v, _depth + 1) for v in seq]
    try:
        json.dumps(value)
        return value
    except Exception:
        return str(value)


def file_list(value: Any) -> list[str]:
    """Paths from an event field that may be None, a string, or a list of (IO)files."""
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)] if str(value) else []
    try:
        return [os.fspath(v) if isinstance(v, os.PathLike) else str(v) for v in value if str(v)]
    except TypeError:
        return [str(value)]


def _job_data(src: dict[str, Any], rule: Any) -> dict[str, Any]:
    data = {
        "jobid": _int(src.get("jobid")),
        "rule": None if rule is None else str(rule),
        "rule_msg": src["rule_msg"] if "rule_msg" in src else src.get("msg"),  # SM8 calls it msg
        "input": file_list(src.get("input")),
        "output": file_list(src.get("output")),
        "log": file_list(src.get("log")),
        "benchmark": file_list(src.get("benchmark")),
        "wildcards": jsonable(src.get("wildcards") or {}),
        "reason": None if src.get("reason") is None else str(src.get("reason")),
        "resources": jsonable(src.get("resources") or {}),
        "threads": src.get("threads"),
        "priority": jsonable(src.get("priority")),
        "local": src.get("local"),
        "is_checkpoint": src.get("is_checkpoint"),
        "shellcmd": src.get("shellcmd"),
    }
    if data["rule_msg"] is not None:
        data["rule_msg"] = str(data["rule_msg"])
    return data


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def from_record(record: Any) -> Event | None:
    """Normalise a Snakemake 9 `LogRecord` (None for records the tracker does not need)."""
    kind = getattr(record, "event", None)
    attrs = record.__dict__
    time = float(getattr(record, "created", 0.0) or 0.0)
    thread = getattr(record, "threadName", None)
    if kind is None:  # a plain message: only the log file's name and a Ctrl-C matter
        text = getattr(record, "msg", None)
        if isinstance(text, str) and text.startswith(PLAIN_MESSAGES):
            return Event(INFO, time, thread, {"msg": text})
        return None
    kind = str(getattr(kind, "value", kind))
    if kind == WORKFLOW_STARTED:
        keys = ("workflow_id", "snakemake_version", "host", "user", "python_version", "platform",
                "cmd", "basedir", "rundir", "cwd", "configfiles", "snakefile_main", "config_md5")
        data = {k: jsonable(attrs.get(k)) for k in keys if k in attrs}
        return Event(WORKFLOW_STARTED, time, thread, data)
    if kind == RESOURCES_INFO:
        if "cores" not in attrs:
            return None
        return Event(RESOURCES_INFO, time, thread, {"cores": jsonable(attrs.get("cores"))})
    if kind == RUN_INFO:
        return Event(RUN_INFO, time, thread, {"stats": jsonable(attrs.get("stats"))})
    if kind == JOB_INFO:
        return Event(JOB_INFO, time, thread, _job_data(attrs, attrs.get("rule_name")))
    if kind == JOB_FINISHED:
        return Event(JOB_FINISHED, time, thread, {"jobid": _int(attrs.get("job_id", attrs.get("jobid")))})
    if kind == JOB_ERROR:
        data = _job_data(attrs, attrs.get("rule_name"))
        data["conda_env"] = jsonable(attrs.get("conda_env"))
        data["container_img"] = jsonable(attrs.get("container_img"))
        return Event(JOB_ERROR, time, thread, data)
    if kind == ERROR:
        return Event(ERROR, time, thread, {"msg": _message(record), "exception": attrs.get("exception")})
    return None


def _message(record: Any) -> str:
    msg = getattr(record, "msg", None)
    if record.__dict__.get("args"):
        try:
            return record.getMessage()
        except Exception:
            pass
    return "" if msg is None else str(msg)


def from_message(msg: dict[str, Any]) -> Event | None:
    """Normalise a Snakemake 8 handler message (None for messages the tracker does not need)."""
    level = msg.get("level")
    time = float(msg.get("timestamp") or 0.0)
    thread = threading.current_thread().name
    if level == "job_info":
        return Event(JOB_INFO, time, thread, _job_data(msg, msg.get("name")))
    if level == "shellcmd":
        return Event(SHELLCMD, time, thread, {"shellcmd": msg.get("msg")})
    if level == "job_finished":
        return Event(JOB_FINISHED, time, thread, {"jobid": _int(msg.get("jobid"))})
    if level == "job_error":
        data = _job_data(msg, msg.get("name"))
        data["conda_env"] = jsonable(msg.get("conda_env"))
        data["container_img"] = None
        return Event(JOB_ERROR, time, thread, data)
    if level == "error":
        text = "" if msg.get("msg") is None else str(msg.get("msg"))
        exception = text.split(":", 1)[0] if re.match(r"^\w+(Error|Exception|Interrupt):", text) else None
        return Event(ERROR, time, thread, {"msg": text, "exception": exception})
    if level == "resources_info":
        found = _PROVIDED_CORES.search(str(msg.get("msg") or ""))
        return Event(RESOURCES_INFO, time, thread, {"cores": int(found.group(1))}) if found else None
    if level == "run_info":
        return Event(RUN_INFO, time, thread, {"stats": parse_job_stats(msg.get("msg"))})
    if level == "info":
        return Event(INFO, time, thread, {"msg": msg.get("msg")})
    return None
