"""Are the files still what the ledger says? Each recorded artifact against the file on disk now.

The stat cache answers for files whose size, mtime and inode are unchanged; only the others are read.
Nothing is written: checking is a question, not a recording.

`check(artifacts, ledger)` takes Artifact records (or any objects with `path`, `kind` and `hash`, such as
the listing's rows) and returns one `Checked` per file; `counts()` sums them up for a summary line.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import InputError
from .hashing import Hasher


class FileState(enum.StrEnum):
    UNCHANGED = "unchanged"
    CHANGED = "changed"  # other content than this artifact's: new, or another recorded version (the detail says)
    MISSING = "missing"


@dataclass(frozen=True)
class Checked:
    artifact: object  # the Artifact record
    state: FileState
    detail: str = ""
    current_hash: str | None = None  # the content now, when the file could be hashed
    current_hash_type: str | None = None

    @property
    def differs(self) -> bool:
        return self.state is not FileState.UNCHANGED


def check(artifacts: Iterable, ledger) -> list[Checked]:
    """The state of each artifact's file now (references, such as container images, are not files)."""
    return list(each(artifacts, ledger))


def each(artifacts: Iterable, ledger) -> Iterator[Checked]:
    """`check()` one artifact at a time, for a caller that shows each answer as it comes."""
    hasher = Hasher(ledger)
    for artifact in artifacts:
        if artifact.kind == "reference":
            continue
        checked = _check_one(artifact, hasher)
        if checked.state is FileState.CHANGED:
            checked = _against_other_versions(checked, ledger)
        yield checked


def by_artifact(checked: Iterable[Checked]) -> dict[int, Checked]:
    """{artifact id: Checked}, as `lineage.to_dict()` and the lineage views take them."""
    return {one.artifact.id: one for one in checked}  # type: ignore[attr-defined]


def counts(checked: Iterable[Checked]) -> dict[str, int]:
    """{state: number of files}, every state present (0 when none), in the order unchanged, changed, missing."""
    found = {state.value: 0 for state in FileState}
    for one in checked:
        found[one.state.value] += 1
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
    if content.gone:  # a symlink whose target is gone: what is known of it is from earlier
        return Checked(artifact, FileState.MISSING, "a symbolic link to nothing")
    if content.hash == artifact.hash:
        return Checked(artifact, FileState.UNCHANGED, "", content.hash, content.hash_type)
    shown = f"{content.hash_type}:{(content.hash or '')[:12]} now"
    return Checked(artifact, FileState.CHANGED, shown, content.hash, content.hash_type)


def _against_other_versions(checked: Checked, ledger) -> Checked:
    """A path that holds another recorded version now (a later one, or an earlier one put back): say which."""
    rows = ledger.query(
        "SELECT a.version, r.uid AS run FROM artifacts a LEFT JOIN runs r ON r.id = a.run_id "
        "WHERE a.path = ? AND a.hash = ? AND coalesce(a.storage_host, '') = coalesce(?, '') "
        "ORDER BY a.version DESC LIMIT 1",
        (checked.artifact.path, checked.current_hash, checked.artifact.storage_host),  # type: ignore[attr-defined]
    )
    if not rows:
        return checked
    later = f"now v{rows[0]['version']}" + (f", made by run {rows[0]['run']}" if rows[0]["run"] else "")
    return Checked(checked.artifact, checked.state, later, checked.current_hash, checked.current_hash_type)
