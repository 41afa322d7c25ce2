"""redun's data -> flowledger's: Transforms, run fields and file paths. Pure functions, no I/O.

The live tracker (redun's `Task`, `Job` and values, on the scheduler's thread) and the importer (the
same things as redun.db keeps them: its `Task` rows have the same fullname, hash and source) both go
through these functions, so a recorded execution and an imported one make the same ledger.

What needs the outside world is given to the functions: the folder that relative paths start at
(`base`) and how to tell whether a file exists (`exists`).

Rules:
- An execution is a Run with `reference` = the execution id (`redun log <id>`); its Transform is the
  root task, of type "pipeline", versioned by its source.
- A job is a Run with `reference` = the job id; its Transform is the task: its full name, redun's task
  hash as the version, and its source.
- A job's inputs are the local files in its arguments that exist when it starts (a path handed to a
  task for it to write is not an input).
- A file is an output of a job whose result holds it, unless a descendant of that job has it as an
  output (children settle before their parents: parents pass it on) or the job got it as an input.
- Remote files (`s3://`, `gs://`, ...) are listed in the run's json, not hashed.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import textwrap
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from flowledger.plugin_api import RunStatus, TransformSpec
from redun.file import Dir, File, FileSet, Staging
from redun.hashing import hash_struct

from .decorator import lineage_of

EXECUTION_REFERENCE_TYPE = "redun_id"
JOB_REFERENCE_TYPE = "redun_job_id"
TASK_REFERENCE_TYPE = "redun_task_hash"
ROOT_TASK_NAME = "redun.root_task"  # the Transform of an execution whose root is no task of the user's

# redun's job statuses (as `redun log` shows them, and as it derives them from redun.db) -> ours.
# RUNNING: redun is fail-fast and leaves the jobs that were still running so; we say what happened.
JOB_STATUS = {
    "DONE": RunStatus.COMPLETED,
    "CACHED": RunStatus.CACHED,
    "FAILED": RunStatus.ERRORED,
    "RUNNING": RunStatus.ABORTED,
}

# A guard against walking huge values on redun's scheduler thread.
MAX_NODES = 100_000


# ---- Transforms ------------------------------------------------------------------------------------
def pipeline_transform(task: Any | None) -> TransformSpec:
    """The execution's Transform: the root task, versioned by its source (None: redun's own root)."""
    if task is None:
        return TransformSpec(name=ROOT_TASK_NAME, type="pipeline")
    source = getattr(task, "source", None)
    return TransformSpec(
        name=task.fullname, type="pipeline", source_code=source, description=describe(task.fullname, source)
    )


def task_transform(task: Any) -> TransformSpec:
    """A job's Transform: the task's full name, versioned by redun's task hash, with its source."""
    source = getattr(task, "source", None)
    return TransformSpec(
        name=task.fullname,
        type="task",
        version=task.hash,
        source_code=source,
        description=describe(task.fullname, source),
        reference=task.hash,
        reference_type=TASK_REFERENCE_TYPE,
    )


def describe(task_fullname: str, source: str | None) -> str | None:
    """A task's description: the one given to `flowledger_redun.task(...)`, else its docstring's first line.

    The docstring is read from the task's source, which both the live tracker (`Task.source`) and the
    importer (redun.db keeps it) have, so that both describe a task alike.
    """
    given = lineage_of(task_fullname).get("description")
    if given:
        return given
    try:
        tree = ast.parse(textwrap.dedent(source or ""))
        func = next(n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
        doc = ast.get_docstring(func) or ""
    except (SyntaxError, StopIteration, ValueError):
        return None
    return doc.splitlines()[0] if doc else None


# ---- run fields ------------------------------------------------------------------------------------
def job_status(redun_status: str) -> RunStatus:
    """A job's status from redun's name for it: DONE, CACHED, FAILED or RUNNING."""
    return JOB_STATUS[redun_status]


def execution_status(error: BaseException | None) -> RunStatus:
    """A live execution's status from how `Scheduler.run` ended: returned, interrupted, or raised."""
    if error is None:
        return RunStatus.COMPLETED
    if isinstance(error, (KeyboardInterrupt, SystemExit)):
        return RunStatus.ABORTED
    return RunStatus.ERRORED


def imported_execution_status(root_job_status: str) -> RunStatus:
    """An imported execution's status from its root job's (redun's name): a cached root completed it."""
    status = job_status(root_job_status)
    return RunStatus.COMPLETED if status is RunStatus.CACHED else status


def error_text(error: BaseException) -> str:
    """How a job's or an execution's error is recorded: `ExceptionType: message`."""
    return f"{type(error).__name__}: {error}"


def stored_error_text(value: Any) -> str:
    """`error_text` of what redun.db keeps for a failed call: an `ErrorValue` holding the exception."""
    return error_text(getattr(value, "error", value))


def execution_argv(args: Any) -> list[Any]:
    """The command line of an execution as redun.db keeps it (JSON text), as a list."""
    try:
        return list(json.loads(args)) if isinstance(args, str) else list(args or [])
    except (ValueError, TypeError):
        return [str(args)]


def tags_json(tags: Iterable[tuple[Any, Any]]) -> dict[str, Any]:
    """redun's (key, value) tags as json: scalars as they are, anything else as its repr."""
    return {str(key): value if isinstance(value, (str, int, float, bool)) else repr(value) for key, value in tags}


def execution_start_json(argv: Iterable[Any], **where: Any) -> dict[str, Any]:
    """The execution Run's json when it starts: its command line, plus where it ran (`cwd`, ...)."""
    return {"args": list(argv), "tags": {}, **where}


def execution_end_json(tags: dict[str, Any], jobs: int) -> dict[str, Any]:
    """What the execution Run's json gains when it ends: redun's execution tags and its number of jobs."""
    return {"tags": tags, "jobs": jobs}


def job_json(
    task: Any,
    *,
    execution_id: str | None,
    parent_job_id: str | None = None,
    parent_run_uid: str | None = None,
    args_hash: str | None = None,
    eval_hash: str | None = None,
    call_hash: str | None = None,
    remote_files: Iterable[str] = (),
    error_from_job_id: str | None = None,
) -> dict[str, Any]:
    """A job Run's json: redun's hashes and ids (unknown ones left out), and its remote files.

    `error_from_job_id`: a job that failed because a child did names the job where the error came from.
    The task's `key=` (from `flowledger_redun.task`) is kept as `output_key`.
    """
    fields: dict[str, Any] = {"task_hash": task.hash, "execution_id": execution_id}
    for name, value in (
        ("eval_hash", eval_hash),
        ("args_hash", args_hash),
        ("call_hash", call_hash),
        ("parent_job_id", parent_job_id),
        ("parent_run_uid", parent_run_uid),
        ("error_from_job_id", error_from_job_id),
        ("output_key", lineage_of(task.fullname).get("key")),
    ):
        if value:
            fields[name] = value
    remote = sorted(set(remote_files))
    if remote:
        fields["remote_files"] = remote
    return fields


# ---- file paths ------------------------------------------------------------------------------------
class FoundFile(NamedTuple):
    path: str  # absolute path for local files, the URL otherwise
    is_dir: bool
    local: bool


def _found(value: File | Dir, base: str) -> FoundFile:
    local = value.filesystem.name == "local"
    path = os.path.normpath(os.path.join(base, value.path)) if local else value.path
    return FoundFile(path, isinstance(value, Dir), local)


def iter_files(value: Any, base: str) -> Iterator[FoundFile]:
    """Yield every file or folder in a redun value, depth first, each object once.

    redun passes files around as `File`, `Dir` and `StagingFile`/`StagingDir` objects nested in lists,
    tuples, dicts, named tuples and dataclasses, and keeps their paths exactly as written (relative to
    the scheduler's working directory) without storing that directory: relative paths are made absolute
    against `base`, an absolute folder. Staged files yield their `remote` side: the `local` side is a
    scratch copy that lives only while the job runs, the remote one is what other jobs and people see.
    """
    for found in iter_file_values(value):
        yield _found(found, base)


def iter_file_values(value: Any) -> Iterator[File | Dir]:
    """The `File` and `Dir` objects in a redun value (staged ones: their remote side), as `iter_files`."""
    stack = [value]
    seen = 0
    while stack and seen < MAX_NODES:
        value = stack.pop()
        seen += 1
        value_type = type(value)
        if value_type in (str, int, float, bool, bytes) or value is None:
            continue
        if isinstance(value, Staging):
            stack.append(value.remote)
        elif isinstance(value, (File, Dir)):  # before FileSet: a Dir is one
            yield value
        elif isinstance(value, FileSet):
            stack.extend(reversed(list(value)))
        elif value_type in (list, tuple, set, frozenset) or (isinstance(value, tuple) and hasattr(value, "_fields")):
            stack.extend(reversed(list(value)) if value_type is not set else value)
        elif value_type is dict:
            stack.extend(reversed(list(value.values())))
            stack.extend(reversed(list(value.keys())))
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            stack.extend(getattr(value, f.name) for f in reversed(dataclasses.fields(value)))


def missing_when_hashed(args: Any, base: str) -> set[str]:
    """The local files in stored call arguments whose redun hash says they did not exist when hashed.

    redun hashes a local File from its path, size and mtime, with -1 for both when the file is missing:
    a file handed to a task for it (or its children) to write keeps that hash, also in the arguments of
    later jobs that get the same File object (a staged `script()` output, say). The importer reads it
    from redun.db, where it cannot ask whether the file existed when the job started.
    """
    missing = set()
    for value in iter_file_values(args):
        if isinstance(value, Dir) or value.filesystem.name != "local":
            continue
        stored = getattr(value, "_hash", None)
        if stored and stored == hash_struct(["File", "local", value.path, -1, "-1"]):
            missing.add(_found(value, base).path)
    return missing


def unique_files(value: Any, base: str) -> list[FoundFile]:
    """`iter_files` without repeats, in first-seen order."""
    return list(dict.fromkeys(iter_files(value, base)))


def job_inputs(args: Any, base: str, exists: Callable[[str], bool]) -> tuple[list[str], list[str]]:
    """(local inputs, remote URLs) of a job: the files in its arguments for which `exists(path)`."""
    inputs, remote = [], []
    for found in unique_files(args, base):
        if not found.local:
            remote.append(found.path)
        elif exists(found.path):
            inputs.append(found.path)
    return inputs, remote


def job_outputs(result: Any, inputs: list[str], below: set[str], base: str) -> tuple[list[str], list[str]]:
    """(local outputs, remote URLs) of a settled job.

    `below` holds the files that the job's descendants (settled before it) have as outputs: a parent
    that passes a child's file on does not claim it, nor does a job that returns one of its own inputs.
    Any other job whose result holds the file does: the same call made twice in one execution (redun
    runs it once and marks the second job cached) gives both jobs the file, and the recorder links the
    second one to the first one's artifact (replicated) as the bytes are the same.
    """
    outputs, remote = [], []
    own_inputs = set(inputs)
    for found in unique_files(result, base):
        if not found.local:
            remote.append(found.path)
        elif found.path not in below and found.path not in own_inputs:
            outputs.append(found.path)
    return outputs, remote
