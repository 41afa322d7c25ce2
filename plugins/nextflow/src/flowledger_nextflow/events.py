"""Parse one weblog POST body (nf-weblog) into an `Event`, with errors that say what is wrong.

Envelope: `{"trace"|"metadata", "runId", "event", "runName", "utcTime"}`; `runId` is the session id.
`metadata = {"parameters": params, "workflow": WorkflowMetadata}`; `start`/`complete` are OffsetDateTime
bean dumps. The `error` event has neither trace nor metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import formats
from .errors import NextflowError
from .task import Task, from_fields

KNOWN_EVENTS = ("started", "process_submitted", "process_started", "process_completed", "error", "completed")
TASK_EVENTS = ("process_submitted", "process_started", "process_completed")


@dataclass
class Workflow:
    """What the `started`/`completed` metadata (or the onComplete hook) says about a run."""

    run_name: str
    session_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    start: datetime | None = None
    complete: datetime | None = None

    def get(self, key: str, default: Any = None) -> Any:
        value = self.raw.get(key, default)
        return default if value is None else value


@dataclass
class Event:
    kind: str
    run_id: str  # the session id
    run_name: str
    utc_time: str | None = None
    task: Task | None = None
    workflow: Workflow | None = None


def parse_event(body: bytes | bytearray | str | dict[str, Any]) -> Event:
    """bytes | str | dict -> Event; raises NextflowError naming the fault."""
    if isinstance(body, (bytes, bytearray)):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NextflowError(f"weblog body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except json.JSONDecodeError as exc:
            raise NextflowError(f"weblog body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        except RecursionError:
            raise NextflowError("weblog body is JSON nested too deeply") from None
    if not isinstance(body, dict):
        raise NextflowError(f"weblog body is a JSON {type(body).__name__}, expected an object")
    kind = body.get("event")
    if not isinstance(kind, str) or not kind:
        raise NextflowError("weblog body has no 'event' field")
    if kind not in KNOWN_EVENTS:
        raise NextflowError(f"unknown weblog event {kind!r} (expected one of {', '.join(KNOWN_EVENTS)})")
    run_id, run_name = body.get("runId"), body.get("runName")
    if not isinstance(run_id, str) or not run_id or not isinstance(run_name, str) or not run_name:
        raise NextflowError(f"weblog event {kind!r} lacks 'runId' or 'runName'")
    event = Event(kind=kind, run_id=run_id, run_name=run_name, utc_time=formats.text(body.get("utcTime")))
    if kind in TASK_EVENTS:
        trace = body.get("trace")
        if not isinstance(trace, dict):
            raise NextflowError(f"weblog event {kind!r} of run {run_name!r} has no 'trace' object")
        event.task = from_fields(trace)
        if event.task.task_id is None:
            raise NextflowError(f"weblog event {kind!r} of run {run_name!r} has a trace without 'task_id'")
    elif kind in ("started", "completed"):
        metadata = body.get("metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("workflow", {}), dict):
            raise NextflowError(f"weblog event {kind!r} of run {run_name!r} has no 'metadata.workflow' object")
        wf = metadata.get("workflow") or {}
        for key in ("manifest", "nextflow", "stats"):
            if wf.get(key) is not None and not isinstance(wf[key], dict):
                raise NextflowError(f"weblog event {kind!r} of run {run_name!r}: 'workflow.{key}' is not an object")
        for key in ("runName", "sessionId", "workDir", "launchDir", "outputDir", "projectDir", "errorMessage"):
            if wf.get(key) is not None and not isinstance(wf[key], str):
                raise NextflowError(f"weblog event {kind!r} of run {run_name!r}: 'workflow.{key}' is not a string")
        if wf.get("runName") not in (None, run_name) or wf.get("sessionId") not in (None, run_id):
            raise NextflowError(f"weblog event {kind!r}: its workflow's runName/sessionId differ from the envelope's")
        event.workflow = workflow_from_metadata(metadata, run_name, run_id)
    return event


def workflow_from_metadata(metadata: dict[str, Any], run_name: str, run_id: str | None = None) -> Workflow:
    wf = metadata.get("workflow") or {}
    params = metadata.get("parameters")
    return Workflow(
        run_name=wf.get("runName") or run_name,
        session_id=wf.get("sessionId") or run_id,
        params=params if isinstance(params, dict) else {},
        raw=wf,
        start=formats.offset_datetime(wf.get("start")),
        complete=formats.offset_datetime(wf.get("complete")),
    )
