"""Find the files `publishDir` made: Nextflow records them nowhere, so match what lies under the output
folders to the task outputs of this run (a symlink into a task's work dir says it directly; a copy or
hard link is matched by size, then by sha256 of the content, preferring the same file name)."""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator

from .workdir import open_regular


def _sha256(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with os.fdopen(open_regular(path, follow=True), "rb") as fh:  # never a FIFO
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


MAX_PUBLISHED = 100_000  # entries looked at under the output folders


def _files(root: str) -> Iterator[str]:
    count = 0
    for folder, dirs, names in os.walk(root, followlinks=False):
        count += len(dirs) + len(names)
        if count > MAX_PUBLISHED:
            return
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            yield os.path.join(folder, name)
        for name in list(dirs):  # a published folder can be a symlink into a work dir
            full = os.path.join(folder, name)
            if os.path.islink(full):
                yield full


def find_published(output_dirs: Iterable[str], task_outputs: dict[str, str]) -> list[tuple[str, str]]:
    """[(published path, producing task uid)] for files under `output_dirs` that are task outputs.

    `task_outputs` maps each output path in a work dir to the uid of the task run that made it.
    """
    by_size: dict[int, list[str]] = defaultdict(list)
    for path in task_outputs:
        try:
            if os.path.isfile(path):
                by_size[os.path.getsize(path)].append(path)
        except OSError:
            continue
    hashes: dict[str, str | None] = {}
    found, seen = [], set()
    for root in output_dirs:
        if not root or not os.path.isdir(root):
            continue
        for path in _files(root):
            if path in seen:
                continue
            seen.add(path)
            if os.path.islink(path):
                target = os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
                if target in task_outputs:
                    found.append((path, task_outputs[target]))
                    continue
            try:
                size = os.path.getsize(path)
            except OSError:
                continue
            candidates = by_size.get(size)
            if not candidates:
                continue
            digest = _sha256(path)
            if digest is None:
                continue
            matches = []
            for candidate in candidates:
                if candidate not in hashes:
                    hashes[candidate] = _sha256(candidate)
                if hashes[candidate] == digest:
                    matches.append(candidate)
            if not matches:
                continue
            same_name = [m for m in matches if os.path.basename(m) == os.path.basename(path)]
            chosen = same_name or matches
            makers = {task_outputs[m] for m in chosen}
            if len(makers) == 1:  # ambiguous copies (same bytes from several tasks) are not guessed
                found.append((path, makers.pop()))
    return found
