"""Find the files inside redun values (task arguments and results).

redun passes files around as `File`, `Dir` and `StagingFile`/`StagingDir` objects nested in lists,
tuples, dicts, named tuples and dataclasses. Lineage needs them as absolute local paths: redun keeps
paths exactly as written (relative to the scheduler's working directory) and stores no cwd, so we
absolutise them at capture time, on the scheduler's side.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Iterator, NamedTuple

from redun.file import Dir, File, FileSet, Staging

# A guard against walking huge values on redun's scheduler thread.
MAX_NODES = 100_000


class FoundFile(NamedTuple):
    path: str  # absolute path for local files, the URL otherwise
    is_dir: bool
    local: bool


def _found(value: File | Dir, base: str | None) -> FoundFile:
    local = value.filesystem.name == "local"
    if not local:
        path = value.path
    elif base is None:
        path = os.path.abspath(value.path)
    else:
        path = os.path.abspath(os.path.join(base, value.path))
    return FoundFile(path, isinstance(value, Dir), local)


def iter_files(value: Any, base: str | None = None) -> Iterator[FoundFile]:
    """Yield every file or folder in `value`, depth first, each object once.

    Staged files yield their `remote` side: the `local` side is a scratch copy that lives only
    while the job runs, the remote one is what other jobs and people see. Relative paths are
    made absolute against `base` (default: the current directory).
    """
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
            yield _found(value, base)
        elif isinstance(value, FileSet):
            stack.extend(reversed(list(value)))
        elif value_type in (list, tuple, set, frozenset) or (
            isinstance(value, tuple) and hasattr(value, "_fields")
        ):
            stack.extend(reversed(list(value)) if value_type is not set else value)
        elif value_type is dict:
            stack.extend(reversed(list(value.values())))
            stack.extend(reversed(list(value.keys())))
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            stack.extend(getattr(value, f.name) for f in reversed(dataclasses.fields(value)))


def unique_files(value: Any, base: str | None = None) -> list[FoundFile]:
    """`iter_files` without repeats, in first-seen order."""
    return list(dict.fromkeys(iter_files(value, base)))


def job_inputs(args: Any, base: str | None = None) -> tuple[list[str], list[str]]:
    """(local inputs, remote URLs) of a job: the files in its arguments that exist.

    A path handed to a task for it to write (a staged output, say) does not exist yet when the job
    starts, and is not an input.
    """
    inputs, remote = [], []
    for found in unique_files(args, base):
        if not found.local:
            remote.append(found.path)
        elif os.path.exists(found.path):
            inputs.append(found.path)
    return inputs, remote


def job_outputs(
    result: Any, inputs: list[str], attributed: set[str], base: str | None = None
) -> tuple[list[str], list[str]]:
    """(local outputs, remote URLs) of a job, and mark the outputs as attributed.

    A file is an output of the first job whose result holds it: children settle before their
    parents, so a parent that passes a child's file on does not claim it, nor does a job that
    returns one of its own inputs.
    """
    outputs, remote = [], []
    own_inputs = set(inputs)
    for found in unique_files(result, base):
        if not found.local:
            remote.append(found.path)
        elif found.path not in attributed and found.path not in own_inputs:
            outputs.append(found.path)
    attributed.update(outputs)
    return outputs, remote
