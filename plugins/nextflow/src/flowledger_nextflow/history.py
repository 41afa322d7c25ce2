"""Read `.nextflow/history`: one TAB line per run (timestamp, duration, run name, status, revision,
session id, command), the index `nextflow log` itself uses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from . import formats
from .errors import NextflowError
from .workdir import read_limited


@dataclass
class HistoryEntry:
    timestamp: datetime | None  # launch time, local
    duration_ms: int | None
    run_name: str
    status: str | None  # OK | ERR | None while running ('-')
    revision: str | None
    session_id: str | None
    command: str | None

    @property
    def success(self) -> bool | None:
        return {"OK": True, "ERR": False}.get(self.status or "")


def read_history(path: str | os.PathLike[str]) -> list[HistoryEntry]:
    path = Path(path)
    try:
        lines = read_limited(path, 64 * 1024 * 1024, follow=True).decode("utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise NextflowError(f"cannot read Nextflow history {path}: {exc.strerror or exc}") from None
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) < 6:
            raise NextflowError(f"{path}, line {number}: {len(cells)} TAB-separated fields, expected 7")
        cells += [""] * (7 - len(cells))
        timestamp = formats.local_datetime(cells[0])
        entries.append(
            HistoryEntry(
                timestamp=timestamp,
                duration_ms=formats.duration_ms(cells[1]),
                run_name=cells[2].strip(),
                status=formats.text(cells[3].strip()),
                revision=formats.text(cells[4].strip()),
                session_id=formats.text(cells[5].strip()),
                command="\t".join(cells[6:]).strip() or None,
            )
        )
    return entries


def find_entry(entries: list[HistoryEntry], run_name: str) -> HistoryEntry | None:
    for entry in reversed(entries):
        if entry.run_name == run_name:
            return entry
    return None
