"""Read a task work dir: staged inputs from `nxf_stage()` of `.command.run`, declared output globs from
its `### outputs:` header, the files those globs match, and what the trace may lack (the script, the end of
`.command.err`, start and end times).

A staged input whose source lies in another task's work dir is that task's output: the same absolute
path is recorded on both sides, which is what links the two tasks in the ledger.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import os
import re
import shlex
import stat
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
        data = read_limited(run_file, MAX_COMMAND_RUN)
    except FileNotFoundError:
        if not os.path.isdir(path):
            raise NextflowError(f"task work dir {path} does not exist") from None
        raise NextflowError(f"task work dir {path} has no .command.run") from None
    except OSError as exc:
        raise NextflowError(f"cannot read {run_file}: {exc.strerror or exc}") from None
    if b"\0" in data[:8192]:
        raise NextflowError(f"{run_file} is a binary file, not a Nextflow task wrapper")
    text = data.decode("utf-8", errors="replace")
    name, declared, container = parse_header(text)
    wd = WorkDir(path=path, name=name, outputs_declared=declared, container=container, inputs=parse_staging(text, path))
    script = os.path.join(path, ".command.sh")
    wd.script_file = script if os.path.lexists(script) else None
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
    """Files and folders matching the declared globs, minus staged inputs and hidden files, in order.

    Only inside `workdir`: absolute patterns and `..` match nothing, and a match whose real path leaves the
    work dir's folder (through a symlink) is left out. `**` walks without following symlinks and at most
    `MAX_WALK` entries, so symlink loops and huge trees end."""
    found: list[str] = []
    seen = set()
    walked: list[str] | None = None
    real_root = os.path.realpath(os.path.dirname(os.path.realpath(workdir)))  # the run's work dir
    for pattern in patterns:
        parts = [p for p in pattern.split("/") if p not in ("", ".")]
        if not parts or os.path.isabs(pattern) or ".." in parts:
            continue
        if glob.has_magic(pattern):
            if walked is None:
                walked = _walk(workdir)
            matches = [rel for rel in walked if _glob_match(rel.split("/"), parts)]
        else:
            matches = [pattern] if os.path.lexists(os.path.join(workdir, pattern)) else []
        for rel in matches:
            rel = os.path.normpath(rel)
            if rel in seen or rel in staged_names or rel.startswith(".") or "/." in rel:
                continue
            if any(rel.startswith(staged.rstrip("/") + "/") for staged in staged_names):
                continue
            full = os.path.join(workdir, rel)
            if not _inside(os.path.realpath(full), os.path.dirname(real_root)):
                continue  # a symlink out of the work dirs: never read
            seen.add(rel)
            found.append(full)
    return found


MAX_WALK = 100_000  # entries of a task work dir looked at for `**` globs


def _walk(root: str) -> list[str]:
    """Relative paths under `root` (files and folders), symlinks not followed, at most `MAX_WALK`, sorted."""
    out: list[str] = []
    stack = [""]
    while stack and len(out) < MAX_WALK:
        rel = stack.pop()
        try:
            with os.scandir(os.path.join(root, rel) if rel else root) as entries:
                for entry in entries:
                    child = f"{rel}/{entry.name}" if rel else entry.name
                    out.append(child)
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(child)
                    if len(out) >= MAX_WALK:
                        break
        except OSError:
            continue
    return sorted(out)


def _glob_match(path: list[str], pattern: list[str]) -> bool:
    """Segment-wise glob match; `**` matches any number of segments (hidden ones too; filtered later)."""
    if not pattern:
        return not path
    head = pattern[0]
    if head == "**":
        return any(_glob_match(path[i:], pattern[1:]) for i in range(len(path) + 1))
    return bool(path) and fnmatch.fnmatchcase(path[0], head) and _glob_match(path[1:], pattern[1:])


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


MAX_COMMAND_RUN = 4 * 1024 * 1024  # bytes of `.command.run` read


def open_regular(path: str | os.PathLike[str], *, follow: bool = False) -> int:
    """A file descriptor of the regular file `path`: never through a symlink (unless `follow`), and never
    left open on a FIFO, socket or device (a non-blocking open, then a regular-file check). OSError otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_limited(path: str | os.PathLike[str], limit: int, *, tail: bool = False, follow: bool = False) -> bytes:
    """At most `limit` bytes of the regular file `path` (its end if `tail`), opened by `open_regular`.
    OSError otherwise (FileNotFoundError if it is not there)."""
    fd = open_regular(path, follow=follow)
    try:
        info = os.fstat(fd)
        if tail and info.st_size > limit:
            os.lseek(fd, info.st_size - limit, os.SEEK_SET)
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


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
        return read_limited(path, limit * 4).decode("utf-8", errors="replace")[:limit]
    except OSError:
        return None


def _tail(path: str, limit: int) -> str | None:
    try:
        return read_limited(path, limit, tail=True).decode("utf-8", errors="replace")
    except OSError:
        return None


def _mtime(folder: str, name: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(os.stat(os.path.join(folder, name)).st_mtime, UTC)
    except OSError:
        return None
