"""The recording contract as types: what plugins hand the recorder, and what every recorder offers.

The calls (`StartRun`, `RecordJob`, `FinishRun`, `AddFiles`) are the recording methods as data.
`RecorderAPI` is the one shape of a recorder. `Recorder` (synchronous), `BackgroundRecorder` (returns at
once, never raises) and any fake a test uses all implement it; `tests/core/test_contract.py` checks their
signatures against it, so they cannot drift apart.
"""

from __future__ import annotations

import enum
import hashlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

Timestamp = datetime | float | int | str
"""A time: a datetime (naive = local time), epoch seconds, or an ISO 8601 string."""

PathLike = str | os.PathLike[str]
Paths = Iterable[PathLike]
JSON = Mapping[str, Any]


class RunStatus(enum.StrEnum):
    """Where a run is. A run starts `scheduled` or `started` and ends in one of the final statuses."""

    SCHEDULED = "scheduled"
    STARTED = "started"
    COMPLETED = "completed"
    ERRORED = "errored"
    ABORTED = "aborted"
    CACHED = "cached"  # skipped: its outputs came from an earlier run (redun cache hit, Nextflow -resume)

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES: frozenset[RunStatus] = frozenset(
    {RunStatus.COMPLETED, RunStatus.ERRORED, RunStatus.ABORTED, RunStatus.CACHED}
)


def run_status(value: str | RunStatus, *, final: bool = False) -> RunStatus:
    """`value` as a RunStatus, or InputError naming the allowed ones."""
    from .errors import InputError

    status = value if isinstance(value, RunStatus) else RunStatus._value2member_map_.get(value)
    allowed = FINAL_STATUSES if final else RunStatus
    if not isinstance(status, RunStatus) or status not in allowed:
        kind = "a final run status" if final else "a run status"
        names = ", ".join(s.value for s in RunStatus if s in allowed)
        raise InputError(f"{value!r} is not {kind} (one of {names})")
    return status


@dataclass(frozen=True)
class TransformSpec:
    """What is run. Without a version, the version is the hash of the source code."""

    name: str
    type: str = "pipeline"
    version: str | None = None
    source_code: str | None = None
    reference: str | None = None
    reference_type: str | None = None
    description: str | None = None

    @property
    def source_hash(self) -> str | None:
        return source_hash(self.source_code)


def source_hash(source_code: str | None) -> str | None:
    return hashlib.sha256(source_code.encode()).hexdigest() if source_code is not None else None


@dataclass(frozen=True)
class RunInfo:
    """A recorded run as plugins read it back (to resume an import, or to finish what is still open)."""

    uid: str
    status: RunStatus
    transform: str
    reference: str | None
    reference_type: str | None
    initiated_by: str | None
    started_at: str | None
    finished_at: str | None


# ---- the calls: each recording method of RecorderAPI as data -----------------------------------


@dataclass(frozen=True)
class StartRun:
    """`RecorderAPI.start_run` as data."""

    transform: TransformSpec | int  # an int: the id of a Transform saved through the Python API
    uid: str
    reference: str | None = None
    reference_type: str | None = None
    initiated_by: str | None = None
    started_at: Timestamp | None = None
    json: JSON | None = None
    created_by: str | None = None
    environment: PathLike | None = None
    environment_reference: str | None = None
    status: RunStatus | str = RunStatus.STARTED


@dataclass(frozen=True)
class RecordJob:
    """`RecorderAPI.record_job` as data (paths taken as a tuple when the call is made)."""

    transform: TransformSpec
    uid: str
    inputs: tuple[PathLike, ...] = ()
    outputs: tuple[PathLike, ...] = ()
    logs: tuple[PathLike, ...] = ()
    initiated_by: str | None = None
    reference: str | None = None
    reference_type: str | None = None
    status: RunStatus | str = RunStatus.COMPLETED
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    json: JSON | None = None
    exit_code: int | None = None
    error: str | None = None
    environment: PathLike | None = None
    environment_reference: str | None = None
    created_by: str | None = None


@dataclass(frozen=True)
class FinishRun:
    """`RecorderAPI.finish_run` as data."""

    uid: str
    status: RunStatus | str = RunStatus.COMPLETED
    finished_at: Timestamp | None = None
    exit_code: int | None = None
    error: str | None = None
    json: JSON | None = None
    report: PathLike | None = None


@dataclass(frozen=True)
class AddFiles:
    """`RecorderAPI.add_inputs` / `add_outputs` as data."""

    uid: str
    role: Literal["input", "output"]
    paths: tuple[PathLike, ...] = ()


Call = StartRun | RecordJob | FinishRun | AddFiles
"""One recorder call as a small typed object: what a queue holds, and what a test fake keeps."""


@runtime_checkable
class RecorderAPI(Protocol):
    """What plugins call to record. Files are paths (relative to the working directory, or absolute).

    Every call that records returns at once with the uid of the run it recorded (chosen by the caller
    with `uid=`, or made here). Missing files are not errors: they are listed in the run's json
    (`missing_inputs`, `missing_outputs`, ...), so that a job is never lost for one file.
    """

    def start_run(
        self,
        transform: TransformSpec,
        *,
        reference: str | None = None,
        reference_type: str | None = None,
        initiated_by: str | None = None,
        started_at: Timestamp | None = None,
        json: JSON | None = None,
        created_by: str | None = None,
        environment: PathLike | None = None,
        environment_reference: str | None = None,
        status: RunStatus | str = RunStatus.STARTED,
        uid: str | None = None,
    ) -> str:
        """A run that has started (a workflow, or a job whose files come later); finish it with finish_run."""
        ...

    def finish_run(
        self,
        uid: str,
        *,
        status: RunStatus | str = RunStatus.COMPLETED,
        finished_at: Timestamp | None = None,
        exit_code: int | None = None,
        error: str | None = None,
        json: JSON | None = None,
        report: PathLike | None = None,
    ) -> None:
        """The end of a run: its final status; `json` is merged into the run's json."""
        ...

    def record_job(
        self,
        transform: TransformSpec,
        *,
        inputs: Paths = (),
        outputs: Paths = (),
        logs: Paths = (),
        initiated_by: str | None = None,
        reference: str | None = None,
        reference_type: str | None = None,
        status: RunStatus | str = RunStatus.COMPLETED,
        started_at: Timestamp | None = None,
        finished_at: Timestamp | None = None,
        json: JSON | None = None,
        exit_code: int | None = None,
        error: str | None = None,
        environment: PathLike | None = None,
        environment_reference: str | None = None,
        uid: str | None = None,
        created_by: str | None = None,
    ) -> str:
        """A whole job, files included, in one transaction. Logs are outputs too; the first is the report."""
        ...

    def add_inputs(self, uid: str, paths: Paths) -> None:
        """Link more files as inputs of run `uid`."""
        ...

    def add_outputs(self, uid: str, paths: Paths) -> None:
        """Link more files as outputs of run `uid`."""
        ...

    def find_run(self, *, reference: str, reference_type: str) -> str | None:
        """The uid of the newest run with this reference (importers skip what is already there)."""
        ...

    def get_run(self, uid: str) -> RunInfo | None:
        """The run `uid`, or None when it is not (yet) in the ledger."""
        ...

    def runs_under(self, uid: str) -> list[RunInfo]:
        """The runs that run `uid` initiated (a workflow run's jobs), oldest first."""
        ...

    def submit(self, call: Call) -> None:
        """Record one call given as data (what the methods above build)."""
        ...

    def submit_all(self, calls: Sequence[Call], on_error: Callable[[Call, Exception], None]) -> None:
        """Record calls together where the recorder can (one transaction); `on_error` gets each that failed."""
        ...

    def batch(self) -> AbstractContextManager[object]:
        """Several calls in one transaction: `with recorder.batch(): ...`."""
        ...

    def close(self, timeout: float | None = None) -> bool:
        """Write what is pending and let go of the ledger; False if `timeout` ran out first."""
        ...
