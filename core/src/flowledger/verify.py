"""Are the files still what the ledger says? Each recorded artifact against the file on disk now.

The stat cache answers for files whose size, mtime and inode are unchanged; only the others are read.
Nothing is written: checking is a question, not a recording.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import InputError
from .hashing import Hasher


class FileState(enum.StrEnum):
    UNCHANGED = "unchanged"
    CHANGED = "changed"  # new content the ledger has not recorded
    MISSING = "missing"


@dataclass(frozen=True)
class Checked:
    artifact: object  # the Artifact record
    state: FileState
    detail: str = ""


def check(artifacts: Iterable, ledger) -> list[Checked]:
    """The state of each artifact's file now (references, such as container images, are not files)."""
    hasher = Hasher(ledger)
    found = []
    for artifact in artifacts:
        if artifact.kind == "reference":
            continue
        found.append(_check_one(artifact, hasher))
    return found


def _check_one(artifact, hasher: Hasher) -> Checked:
    if not os.path.lexists(artifact.path):
        return Checked(artifact, FileState.MISSING, "no such file or folder")
    if artifact.hash is None:  # a pipe, socket or device: there is no content to compare
        return Checked(artifact, FileState.UNCHANGED)
    try:
        content = hasher.content(artifact.path)
    except InputError as problem:
        return Checked(artifact, FileState.MISSING, str(problem))
    if content.hash == artifact.hash:
        return Checked(artifact, FileState.UNCHANGED)
    return Checked(artifact, FileState.CHANGED, f"{content.hash_type}:{(content.hash or '')[:12]} now")
