"""The base class that turns the recording methods of `RecorderAPI` into typed calls for `submit()`.

`CallRecorder` implements them once: each method builds a call (`contract.StartRun`, ...) and hands it
to `submit()`. The synchronous `Recorder` writes it at once, the `BackgroundRecorder` queues it, and a
test's fake keeps it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from .contract import (
    JSON,
    AddFiles,
    Call,
    FinishRun,
    PathLike,
    Paths,
    RecordJob,
    RunStatus,
    StartRun,
    Timestamp,
    TransformSpec,
)
from .ids import new_uid


class CallRecorder:
    """The recording methods of `RecorderAPI`, each turned into one call for `submit()`."""

    def submit(self, call: Call) -> None:
        raise NotImplementedError

    def submit_all(self, calls: Sequence[Call], on_error: Callable[[Call, Exception], None]) -> None:
        """One by one here; a recorder that can share a transaction between calls does better."""
        for call in calls:
            try:
                self.submit(call)
            except Exception as error:
                on_error(call, error)

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
        call = StartRun(
            transform,
            uid or new_uid(16),
            reference,
            reference_type,
            initiated_by,
            started_at,
            _copy(json),
            created_by,
            environment,
            environment_reference,
            status,
        )
        self.submit(call)
        return call.uid

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
        self.submit(FinishRun(uid, status, finished_at, exit_code, error, _copy(json), report))

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
        call = RecordJob(
            transform,
            uid or new_uid(16),
            _paths(inputs),
            _paths(outputs),
            _paths(logs),
            initiated_by,
            reference,
            reference_type,
            status,
            started_at,
            finished_at,
            _copy(json),
            exit_code,
            error,
            environment,
            environment_reference,
            created_by,
        )
        self.submit(call)
        return call.uid

    def add_inputs(self, uid: str, paths: Paths) -> None:
        self.submit(AddFiles(uid, "input", _paths(paths)))

    def add_outputs(self, uid: str, paths: Paths) -> None:
        self.submit(AddFiles(uid, "output", _paths(paths)))


def _paths(paths: Paths | PathLike) -> tuple[PathLike, ...]:
    """A tuple of paths, taken now (the caller may reuse its list); one path alone is one path, not letters."""
    if isinstance(paths, (str, os.PathLike)):
        return (paths,)
    return tuple(paths)


def _copy(json: JSON | None) -> JSON | None:
    return dict(json) if json is not None else None
