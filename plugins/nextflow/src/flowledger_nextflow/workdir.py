"""Read a task work dir: staged inputs from `nxf_stage()` of `.command.run`, declared output globs from
its `### outputs:` header, and the files those globs match.

A staged input whose source lies in another task's work dir is that task's output: the same absolute
path is recorded on both sides, which is what links the two tasks in the ledger.
"""

import glob
import os
import re
import shlex
from dataclasses import dataclass, field

from .errors import NextflowError

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
            name, section = _unquote(line[len("### name: "):]), None
        elif line.startswith("### container: "):
            container, section = _unquote(line[len("### container: "):]), None
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


def read_workdir(path, *, with_outputs: bool = True) -> WorkDir:
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
    wd = WorkDir(path=path, name=name, outputs_declared=declared, container=container,
                 inputs=parse_staging(text, path))
    script = os.path.join(path, ".command.sh")
    wd.script_file = script if os.path.exists(script) else None
    if with_outputs:
        wd.outputs = match_outputs(path, declared, {i.name for i in wd.inputs})
    return wd


def try_read_workdir(path) -> tuple[WorkDir | None, str | None]:
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
