"""Intake: what Snakemake logs, parsed into small event dataclasses (no state, no ledger).

Snakemake 9 hands the logger plugin `logging.LogRecord`s whose `event` attribute is a `LogEvent`;
Snakemake 8 calls the handler script with plain dicts keyed by a `level` string. The field names differ
too (`rule_name` vs `name`, `job_id` vs `jobid`). Each dataclass here parses both (`from_record` for 9,
`from_message` for 8), and two explicit tables say which dataclass parses which event:
`SNAKEMAKE9` (keyed by Snakemake's own `LogEvent`) and `SNAKEMAKE8` (keyed by Snakemake 8's level
string). Events in neither table are dropped at the door. The tracker never learns which Snakemake
spoke.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from snakemake_interface_logger_plugins.common import LogEvent

LOGFILE_MESSAGE = "Complete log"  # "Complete log(s): PATH" (9) / "Complete log: PATH" (8)
INTERRUPT_MESSAGE = "Terminating processes on user request"  # Ctrl-C; 9 sends no error event for it
GRACEFUL_MESSAGE = "Will exit after finishing currently running jobs"  # SIGTERM: running jobs may finish
PLAIN_MESSAGES = (LOGFILE_MESSAGE, INTERRUPT_MESSAGE, GRACEFUL_MESSAGE)
CANCELLED_MESSAGE = "Cancelling snakemake on user request"  # Snakemake 8's Ctrl-C error text

Record = logging.LogRecord
Message8 = Mapping[str, Any]


# ---- the events --------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class _Event:
    time: float = 0.0  # when Snakemake logged it (epoch seconds)
    thread: str | None = None  # the thread that logged it: a job's error message comes from the job's thread


@dataclass(frozen=True, kw_only=True)
class WorkflowStarted(_Event):
    """Snakemake 9 only, once per invocation (dry and no-op runs too)."""

    workflow_id: str | None = None
    snakemake_version: str | None = None
    host: str | None = None
    user: str | None = None
    python_version: str | None = None
    platform: str | None = None
    cmd: str | None = None
    basedir: str | None = None
    rundir: str | None = None
    cwd: str | None = None
    configfiles: tuple[str, ...] | None = None  # None: not told
    snakefile_main: str | None = None  # the user's Snakefile (the event's `snakefile` is Snakemake's own)
    config_md5: str | None = None

    @classmethod
    def from_record(cls, record: Record) -> WorkflowStarted:
        attrs = record.__dict__
        texts: dict[str, Any] = {name: _text(attrs.get(name)) for name in _WORKFLOW_TEXTS}
        return cls(
            **_when(record),
            workflow_id=_text(attrs.get("workflow_id")) or None,
            configfiles=None if "configfiles" not in attrs else tuple(file_list(attrs.get("configfiles"))),
            **texts,
        )


_WORKFLOW_TEXTS = (
    "snakemake_version",
    "host",
    "user",
    "python_version",
    "platform",
    "cmd",
    "basedir",
    "rundir",
    "cwd",
    "snakefile_main",
    "config_md5",
)


@dataclass(frozen=True, kw_only=True)
class ResourcesInfo(_Event):
    cores: int | None = None

    @classmethod
    def from_record(cls, record: Record) -> ResourcesInfo | None:
        if "cores" not in record.__dict__:  # the other resources_info (nodes, provided resources)
            return None
        return cls(**_when(record), cores=jsonable(record.__dict__["cores"]))

    @classmethod
    def from_message(cls, msg: Message8) -> ResourcesInfo | None:
        found = _PROVIDED_CORES.search(str(msg.get("msg") or ""))
        return cls(**_when8(msg), cores=int(found.group(1))) if found else None


@dataclass(frozen=True, kw_only=True)
class RunInfo(_Event):
    stats: dict[str, int] | None = None  # jobs per rule, and "total"

    @classmethod
    def from_record(cls, record: Record) -> RunInfo:
        return cls(**_when(record), stats=jsonable(record.__dict__.get("stats")))

    @classmethod
    def from_message(cls, msg: Message8) -> RunInfo:
        return cls(**_when8(msg), stats=parse_job_stats(msg.get("msg")))


@dataclass(frozen=True, kw_only=True)
class JobInfo(_Event):
    """A job about to run (also sent, for jobs that never run, by dry runs and `--touch`)."""

    jobid: int | None = None
    rule: str | None = None
    rule_msg: str | None = None  # the rule's `message:`
    input: tuple[str, ...] = ()
    output: tuple[str, ...] = ()
    log: tuple[str, ...] = ()
    benchmark: tuple[str, ...] = ()
    wildcards: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    resources: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None
    priority: Any = None
    local: bool | None = None
    is_checkpoint: bool | None = None
    shellcmd: str | None = None  # Snakemake 9; Snakemake 8 sends it as its own `shellcmd` message

    @classmethod
    def from_record(cls, record: Record) -> JobInfo:
        return cls(**_when(record), **_job_fields(record.__dict__, rule=record.__dict__.get("rule_name")))

    @classmethod
    def from_message(cls, msg: Message8) -> JobInfo:
        return cls(**_when8(msg), **_job_fields(msg, rule=msg.get("name")))


@dataclass(frozen=True, kw_only=True)
class JobError(JobInfo):
    """A job failed. It says neither why nor with which exit code: that is the `Error` just before it."""

    conda_env: Any = None
    container_img: Any = None

    @classmethod
    def from_record(cls, record: Record) -> JobError:
        attrs = record.__dict__
        return cls(
            **_when(record),
            **_job_fields(attrs, rule=attrs.get("rule_name")),
            conda_env=jsonable(attrs.get("conda_env")),
            container_img=jsonable(attrs.get("container_img")),
        )

    @classmethod
    def from_message(cls, msg: Message8) -> JobError:
        return cls(**_when8(msg), **_job_fields(msg, rule=msg.get("name")), conda_env=jsonable(msg.get("conda_env")))


@dataclass(frozen=True, kw_only=True)
class ShellCmd(_Event):
    """Snakemake 8: the command of the job its thread logged just before (it carries no jobid)."""

    shellcmd: str | None = None

    @classmethod
    def from_message(cls, msg: Message8) -> ShellCmd:
        return cls(**_when8(msg), shellcmd=msg.get("msg"))


@dataclass(frozen=True, kw_only=True)
class JobFinished(_Event):
    jobid: int | None = None

    @classmethod
    def from_record(cls, record: Record) -> JobFinished:
        attrs = record.__dict__
        return cls(**_when(record), jobid=_int(attrs.get("job_id", attrs.get("jobid"))))

    @classmethod
    def from_message(cls, msg: Message8) -> JobFinished:
        return cls(**_when8(msg), jobid=_int(msg.get("jobid")))


@dataclass(frozen=True, kw_only=True)
class Error(_Event):
    """An error message: a job's exception (logged just before its JobError) or the workflow's."""

    msg: str = ""
    exception: str | None = None  # the exception's class name

    @property
    def exit_code(self) -> int | None:
        return parse_exit_code(self.msg)

    @property
    def is_interrupt(self) -> bool:
        return self.exception == "KeyboardInterrupt" or CANCELLED_MESSAGE in self.msg

    @classmethod
    def from_record(cls, record: Record) -> Error:
        return cls(**_when(record), msg=_message(record), exception=_text(record.__dict__.get("exception")))

    @classmethod
    def from_message(cls, msg: Message8) -> Error:
        text = _text(msg.get("msg")) or ""
        exception = text.split(":", 1)[0] if _EXCEPTION_LINE.match(text) else None
        return cls(**_when8(msg), msg=text, exception=exception)


@dataclass(frozen=True, kw_only=True)
class Message(_Event):
    """A plain message. Two kinds matter: the name of Snakemake's own log file, and Ctrl-C or SIGTERM."""

    msg: str = ""

    @property
    def is_interrupt(self) -> bool:
        return self.msg.startswith((INTERRUPT_MESSAGE, GRACEFUL_MESSAGE))

    @property
    def logfile(self) -> str | None:
        """The (first) path of "Complete log(s): PATH[, PATH]", as Snakemake printed it."""
        if not self.msg.startswith(LOGFILE_MESSAGE) or ":" not in self.msg:
            return None
        return self.msg.split(":", 1)[1].strip().split(", ")[0] or None

    @classmethod
    def from_record(cls, record: Record) -> Message | None:
        text = getattr(record, "msg", None)
        if isinstance(text, str) and text.startswith(PLAIN_MESSAGES):
            return cls(**_when(record), msg=text)
        return None

    @classmethod
    def from_message(cls, msg: Message8) -> Message:
        return cls(**_when8(msg), msg=_text(msg.get("msg")) or "")


Event = WorkflowStarted | ResourcesInfo | RunInfo | JobInfo | JobError | ShellCmd | JobFinished | Error | Message


# ---- which dataclass parses which event --------------------------------------------------------
SNAKEMAKE9: dict[LogEvent, Callable[[Record], Event | None]] = {
    LogEvent.WORKFLOW_STARTED: WorkflowStarted.from_record,
    LogEvent.RESOURCES_INFO: ResourcesInfo.from_record,
    LogEvent.RUN_INFO: RunInfo.from_record,
    LogEvent.JOB_INFO: JobInfo.from_record,  # carries the shell command: SHELLCMD is not needed
    LogEvent.JOB_FINISHED: JobFinished.from_record,
    LogEvent.JOB_ERROR: JobError.from_record,
    LogEvent.ERROR: Error.from_record,
}
"""Snakemake 9: a record's `event` -> its parser. Plain records (no `event`) go to `Message.from_record`."""

SNAKEMAKE8: dict[str, Callable[[Message8], Event | None]] = {
    "resources_info": ResourcesInfo.from_message,
    "run_info": RunInfo.from_message,
    "job_info": JobInfo.from_message,
    "shellcmd": ShellCmd.from_message,
    "job_finished": JobFinished.from_message,
    "job_error": JobError.from_message,
    "error": Error.from_message,
    "info": Message.from_message,
}
"""Snakemake 8: a message's `level` -> its parser (the same dataclasses as for Snakemake 9)."""


def from_record(record: Record) -> Event | None:
    """A Snakemake 9 `LogRecord` as an event (None for records the tracker does not need)."""
    kind = getattr(record, "event", None)
    if kind is None:
        return Message.from_record(record)
    parse = SNAKEMAKE9.get(kind)  # LogEvent is a StrEnum: a record's plain "job_info" finds it too
    return parse(record) if parse is not None else None


def from_message(msg: Message8) -> Event | None:
    """A Snakemake 8 handler message as an event (None for messages the tracker does not need)."""
    parse = SNAKEMAKE8.get(str(msg.get("level")))
    return parse(msg) if parse is not None else None


# ---- parsing helpers ---------------------------------------------------------------------------
_EXIT_STATUS = re.compile(r"non-zero exit status (-?\d+)")
_PROVIDED_CORES = re.compile(r"Provided cores: (\d+)")
_EXCEPTION_LINE = re.compile(r"^\w+(Error|Exception|Interrupt):")


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


def _job_fields(src: Mapping[str, Any], *, rule: Any) -> dict[str, Any]:
    """The JobInfo fields of a job_info / job_error record (9) or message (8)."""
    rule_msg = src["rule_msg"] if "rule_msg" in src else src.get("msg")  # Snakemake 8 calls it msg
    return {
        "jobid": _int(src.get("jobid")),
        "rule": _text(rule),
        "rule_msg": _text(rule_msg),
        "input": tuple(file_list(src.get("input"))),
        "output": tuple(file_list(src.get("output"))),
        "log": tuple(file_list(src.get("log"))),
        "benchmark": tuple(file_list(src.get("benchmark"))),
        "wildcards": jsonable(src.get("wildcards") or {}),
        "reason": _text(src.get("reason")),
        "resources": jsonable(src.get("resources") or {}),
        "threads": src.get("threads"),
        "priority": jsonable(src.get("priority")),
        "local": src.get("local"),
        "is_checkpoint": src.get("is_checkpoint"),
        "shellcmd": src.get("shellcmd"),
    }


def _when(record: Record) -> dict[str, Any]:
    return {"time": float(getattr(record, "created", 0.0) or 0.0), "thread": getattr(record, "threadName", None)}


def _when8(msg: Message8) -> dict[str, Any]:
    """Snakemake 8 calls the handler in the thread that logs, and stamps the message itself."""
    return {"time": float(msg.get("timestamp") or 0.0), "thread": threading.current_thread().name}


def _message(record: Record) -> str:
    msg = getattr(record, "msg", None)
    if record.__dict__.get("args"):
        try:
            return record.getMessage()
        except Exception:
            pass
    return "" if msg is None else str(msg)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
