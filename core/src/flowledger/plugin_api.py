"""Everything a flowledger plugin may import. The rest of the core is internal and may change.

A workflow-manager plugin maps its manager's events to `TransformSpec`s and run fields and records them
through a `RecorderAPI`, usually the one `open_recorder()` returns:

    from flowledger.plugin_api import RunStatus, TransformSpec, hookimpl, open_recorder

    recorder = open_recorder(db)                      # returns at once, never raises, warns once
    workflow = recorder.start_run(TransformSpec("my-pipeline"), reference=run_id, reference_type="my_id")
    recorder.record_job(TransformSpec("align", type="rule", source_code=cmd), inputs=[...], outputs=[...],
                        initiated_by=workflow, reference=job_id, reference_type="my_job_id")
    recorder.finish_run(workflow, status=RunStatus.COMPLETED)
    recorder.close(timeout=10)

Hooks (`hookimpl`) let a plugin add CLI commands, ledger migrations, a hash algorithm, or listen to what
is recorded; `flowledger plugins` lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .background import BackgroundRecorder
from .calls import CallRecorder
from .contract import (
    FINAL_STATUSES,
    JSON,
    AddFiles,
    Call,
    FinishRun,
    PathLike,
    Paths,
    RecorderAPI,
    RecordJob,
    RunInfo,
    RunStatus,
    StartRun,
    Timestamp,
    TransformSpec,
    run_status,
)
from .errors import FlowledgerError, InputError, LedgerError
from .hookspecs import hookimpl
from .ids import new_uid, stable_uid
from .location import ENV_VAR as LEDGER_ENV_VAR
from .location import absolute_setting, resolve_ledger_path
from .recorder import Recorder
from .timestamps import to_iso
from .warn import WarnOnce, print_warning, recording_failed


def db_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """A `--db` option for a plugin's sub-command that also takes the one given before it (`flowledger --db`)."""
    from .clitools import db_option as option  # click is imported only by commands

    return option(command)


def open_recorder(db: PathLike | None = None, *, warn: WarnOnce | None = None, background: bool = True) -> RecorderAPI:
    """The recorder a plugin should use: off the pipeline's thread, never raising, warning once.

    `background=False` gives the synchronous `Recorder` instead (importers, which may raise and whose
    caller reports the error), opened now, so a bad ledger fails here with a clear message.
    """
    if background:
        return BackgroundRecorder(db, warn=warn)
    return Recorder(db)


__all__ = [
    "FINAL_STATUSES",
    "JSON",
    "LEDGER_ENV_VAR",
    "AddFiles",
    "BackgroundRecorder",
    "Call",
    "CallRecorder",
    "FinishRun",
    "FlowledgerError",
    "InputError",
    "LedgerError",
    "PathLike",
    "Paths",
    "RecordJob",
    "Recorder",
    "RecorderAPI",
    "RunInfo",
    "RunStatus",
    "StartRun",
    "Timestamp",
    "TransformSpec",
    "WarnOnce",
    "absolute_setting",
    "db_option",
    "hookimpl",
    "new_uid",
    "open_recorder",
    "print_warning",
    "recording_failed",
    "resolve_ledger_path",
    "run_status",
    "stable_uid",
    "to_iso",
]
