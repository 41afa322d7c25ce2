"""Read a task work dir: staged inputs from `nxf_stage()` of `.command.run`, declared output globs from
its `### outputs:` header, the files those globs match, and what the trace may lack (the script, the end of
`.command.err`, start and end times).

A staged input whose source lies in another task's work dir is that task's output: the same absolute
path is recorded on both sides, which is what links the two tasks in the ledger.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from flowledger.plugin_api import RunStatus

from .errors import NextflowError
from .task import Task

_HEADER_ITEM = re.compile(r"^### - (.*)$")


@dataclass
class StagedInput:
    name: str  # the name inside the work dir
    source: str  # absolute path of what was staged
    mode: str  # symlink | rellink | link | copy


@dataclass
class WorkDir:
    path: str
    name: str | None = None
    outputs_declared: list[str] = field(default_factory=list)
    container: str | None = None
    inputs: list[StagedInput] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)  # absolute paths that exist
    script_file: str | None = None  # `.command.sh`, the interpolated script


def _unquote(item: str) -> str:
    item = item.strip()
    if len(item) >= 2 and item[0] == item[-1] and item[0] in "'\"":
        item = item[1:-1].replace("\\'", "'")
    return item


def parse_header(text: str) -> tuple[str | None, list[str], str | None]:
    """(task name, output globs, container) from the `### ...` header of `.command.run`."""
    name, outputs, container, section = None, [], None, None
    for line in text.splitlines()[:500]:
        if not line.startswith("###"):
            if line.startswith("#!"):
                continue
            break
        if line.startswith("### name: "):
            name, section = _unquote(line[len("### name: ") :]), None
        elif line.startswith("### container: "):
            container, section = _unquote(line[len("### container: ") :]), None
        elif line.rstrip() == "### outputs:":
            section = "outputs"
        elif section == "outputs" and (m := _HEADER_ITEM.match(line)):
            outputs.append(_unquote(m.group(1)))
        else:
            section = None
    return name, outputs, container


def parse_staging(text: str, workdir: str) -> list[StagedInput]:
    """The `ln -s`/`ln`/`cp` lines of `nxf_stage()`; sources made absolute."""
    staged, inside = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("nxf_stage()"):
            inside = True
            continue
        if not inside:
            continue
        if stripped == "}":
            break
        for command in stripped.split("&&"):
            entry = _staging_command(command.strip(), workdir)
            if entry:
                staged.append(entry)
    return staged


def _staging_command(command: str, workdir: str) -> StagedInput | None:
    if not command.startswith(("ln ", "cp ")):
        return None
    if "\\" in command or "'" in command or '"' in command:
        try:
            words = shlex.split(command)  # escaped or quoted names: the slow, exact way
        except ValueError:
            return None
    else:
        words = command.split()
    args = [w for w in words[1:] if not w.startswith("-")]
    flags = "".join(w for w in words[1:] if w.startswith("-"))
    if len(args) != 2:
        return None
    source, name = args
    if words[0] == "cp":
        mode = "copy"
    elif "s" in flags:
        mode = "symlink" if os.path.isabs(source) else "rellink"
    else:
        mode = "link"
    if not os.path.isabs(source):  # relative to the directory that holds the staged name
        source = os.path.normpath(os.path.join(workdir, os.path.dirname(name), source))
    return StagedInput(name=name, source=source, mode=mode)


def read_workdir(path: str | os.PathLike[str], *, with_outputs: bool = True) -> WorkDir:
    """Parse `<path>/.command.run` and match its output globs; NextflowError if it cannot be read."""
    path = str(path)
    run_file = os.path.join(path, ".command.run")
    try:
        with open(run_file, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except FileNotFoundError:
        if not os.path.isdir(path):
            raise NextflowError(f"task work dir {path} does not exist") from None
        raise NextflowError(f"task work dir {path} has no .command.run") from None
    except OSError as exc:
        raise NextflowError(f"cannot read {run_file}: {exc.strerror or exc}") from None
    name, declared, container = parse_header(text)
    wd = WorkDir(path=path, name=name, outputs_declared=declared, container=container, inputs=parse_staging(text, path))
    script = os.path.join(path, ".command.sh")
    wd.script_file = script if os.path.exists(script) else None
    if with_outputs:
        wd.outputs = match_outputs(path, declared, {i.name for i in wd.inputs})
    return wd


def try_read_workdir(path: str | os.PathLike[str]) -> tuple[WorkDir | None, str | None]:
    """`(WorkDir, None)`, or `(None, reason)` when it cannot be read: the task is then recorded without files."""
    try:
        return read_workdir(path), None
    except NextflowError as exc:
        return None, str(exc)


def match_outputs(workdir: str, patterns: list[str], staged_names: set[str]) -> list[str]:
    """Files and folders matching the declared globs, minus staged inputs and hidden files, in order."""
    found: list[str] = []
    seen = set()
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern, root_dir=workdir, recursive=True))
        else:
            matches = [pattern] if os.path.lexists(os.path.join(workdir, pattern)) else []
        for rel in matches:
            rel = os.path.normpath(rel)
            if rel in seen or rel in staged_names or rel.startswith(".") or "/." in rel:
                continue
            if any(rel.startswith(staged.rstrip("/") + "/") for staged in staged_names):
                continue
            seen.add(rel)
            found.append(os.path.join(workdir, rel))
    return found


# ---- one task's files ------------------------------------------------------------------------------

MAX_SCRIPT = 20_000  # characters of `.command.sh` kept
_ERROR_TAIL = 64 * 1024  # bytes read from the end of `.command.err`


@dataclass
class TaskFiles:
    """What a task's work dir says beyond its trace (read by `read_task_files`, mapped by `mapping.task_job`)."""

    workdir: WorkDir | None = None  # staged inputs, declared outputs and the files matching them
    problem: str | None = None  # why there is no `workdir`: the task is recorded without files
    script: str | None = None  # the start of `.command.sh`, when the trace has no `script`
    error: str | None = None  # the end of `.command.err`, for a failed task
    began: datetime | None = None  # `.command.begin` mtime, when the trace has no `start`
    ended: datetime | None = None  # `.exitcode` mtime, when the trace has no `complete`


def find_workdir(work_dir: str | None, short_hash: str | None) -> str | None:
    """The work dir `<work_dir>/ab/cdef12...` of the task whose hash Nextflow prints as `ab/cdef12`."""
    if not work_dir or not short_hash or "/" not in short_hash:
        return None
    head, tail = short_hash.split("/", 1)
    found = glob.glob(os.path.join(glob.escape(work_dir), head, glob.escape(tail) + "*"))
    return found[0] if len(found) == 1 else None


def read_task_files(task: Task, work_dir: str | None, *, finished: bool = True) -> tuple[Task, TaskFiles]:
    """The task (with its work dir, found under `work_dir` by its hash if the trace lacks it) and its files.

    A task that has not `finished` yet has only its start time to give. Never raises: what cannot be read
    is left out, and a missing work dir is the `problem`.
    """
    path = task.workdir
    if not path:
        path = find_workdir(work_dir, task.hash)
        if not path:
            return task, TaskFiles(problem=f"no work dir found for task {task.hash} ({task.name}) under {work_dir}")
        task = replace(task, workdir=path)
    ran_here = not task.cached  # a cache hit's files are the original task's
    files = TaskFiles()
    if ran_here and task.start is None:
        files.began = _mtime(path, ".command.begin")
    if not finished:
        return task, files
    files.workdir, files.problem = try_read_workdir(path)
    if ran_here and task.complete is None:
        files.ended = _mtime(path, ".exitcode")
    if files.workdir and files.workdir.script_file and not task.script:
        files.script = _head(files.workdir.script_file, MAX_SCRIPT)
    if task.run_status is RunStatus.ERRORED:
        files.error = _tail(os.path.join(path, ".command.err"), _ERROR_TAIL)
    return task, files


def _head(path: str, limit: int) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(limit)
    except OSError:
        return None


def _tail(path: str, limit: int) -> str | None:
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - limit))
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return None


def _mtime(folder: str, name: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(os.stat(os.path.join(folder, name)).st_mtime, UTC)
    except OSError:
        return None
