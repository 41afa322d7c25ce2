"""Recorder calls as small typed objects, and the base class that turns the recorder API into them.

`CallRecorder` implements the recording half of `RecorderAPI` once: each method builds a call and hands
it to `submit()`. The synchronous `Recorder` writes it at once, the `BackgroundRecorder` queues it, and
a test's fake keeps it. Each call knows how to hash its files (`prepare`, outside any lock) and how to
write itself (`write`, inside a transaction), so a batch of them can share one commit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from .contract import JSON, PathLike, Paths, RunStatus, Timestamp, TransformSpec
from .hashing import Hasher, Prepared
from .ids import new_uid
from .writer import Transaction, Writer, Written


@dataclass(frozen=True)
class StartRun:
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

    def prepare(self, hasher: Hasher) -> Prepared:
        return hasher.prepare(environment=self.environment)

    def write(self, writer: Writer, conn: Transaction, prepared: Prepared) -> Written:
        return writer.insert_run(
            conn,
            self.transform,
            prepared,
            reference=self.reference,
            reference_type=self.reference_type,
            initiated_by=self.initiated_by,
            started_at=self.started_at,
            json=self.json,
            created_by=self.created_by,
            environment_reference=self.environment_reference,
            status=self.status,
            uid=self.uid,
        )


@dataclass(frozen=True)
class RecordJob:
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

    def prepare(self, hasher: Hasher) -> Prepared:
        return hasher.prepare(inputs=self.inputs, outputs=self.outputs, logs=self.logs, environment=self.environment)

    def write(self, writer: Writer, conn: Transaction, prepared: Prepared) -> Written:
        return writer.insert_run(
            conn,
            self.transform,
            prepared,
            reference=self.reference,
            reference_type=self.reference_type,
            initiated_by=self.initiated_by,
            started_at=self.started_at,
            finished_at=self.finished_at,
            json=self.json,
            created_by=self.created_by,
            environment_reference=self.environment_reference,
            status=self.status,
            uid=self.uid,
            exit_code=self.exit_code,
            error=self.error,
        )


@dataclass(frozen=True)
class FinishRun:
    uid: str
    status: RunStatus | str = RunStatus.COMPLETED
    finished_at: Timestamp | None = None
    exit_code: int | None = None
    error: str | None = None
    json: JSON | None = None
    report: PathLike | None = None

    def prepare(self, hasher: Hasher) -> Prepared:
        return hasher.prepare(report=self.report)

    def write(self, writer: Writer, conn: Transaction, prepared: Prepared) -> Written:
        return writer.finish_run(
            conn,
            self.uid,
            prepared,
            status=self.status,
            finished_at=self.finished_at,
            exit_code=self.exit_code,
            error=self.error,
            json=self.json,
        )


@dataclass(frozen=True)
class AddFiles:
    uid: str
    role: Literal["input", "output"]
    paths: tuple[PathLike, ...] = field(default=())

    def prepare(self, hasher: Hasher) -> Prepared:
        return hasher.prepare(**{f"{self.role}s": self.paths})

    def write(self, writer: Writer, conn: Transaction, prepared: Prepared) -> Written:
        return writer.add_files(conn, self.uid, prepared)


Call = StartRun | RecordJob | FinishRun | AddFiles


class CallRecorder:
    """The recording methods of `RecorderAPI`, each turned into one call for `submit()`."""

    def submit(self, call: Call) -> None:
        raise NotImplementedError

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
