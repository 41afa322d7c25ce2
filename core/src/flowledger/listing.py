"""What the listings read: runs and artifacts with one JOIN query each, yielded row by row.

Read-only: every write stays in `writer.py`. A listing never builds a model per row and never looks a
relation up row by row (12,000 runs were 36,000 queries); what tells jobs apart (Snakemake wildcards, a
Nextflow tag) is read from the run's json by SQLite itself. Also here: finding a run or an artifact from
what a user types (a uid or a unique prefix of one, a path, `PATH@vN`), and the summary of a workflow run.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import FlowledgerError, InputError
from .models import Artifact, Run
from .paths import absolute
from .registry import glob_literal
from .timestamps import to_iso

RUN_SQL = """
SELECT r.id, r.uid, r.status, r.started_at, r.finished_at, r.reference, r.reference_type, r.exit_code, r.error,
       r.host, r.pid, r.pid_start, t.name AS transform, t.version AS transform_version, t.type AS transform_type,
       t.hash AS transform_hash, p.uid AS initiated_by,
       CASE WHEN json_valid(r.json) THEN json_extract(r.json, '$.wildcards') END AS wildcards,
       CASE WHEN json_valid(r.json) THEN json_extract(r.json, '$.tag') END AS tag
FROM runs r JOIN transforms t ON t.id = r.transform_id LEFT JOIN runs p ON p.id = r.initiated_by_run_id
"""

ARTIFACT_SQL = """
SELECT a.id, a.uid, a.path, a.user_path, a.kind, a.version, a.is_latest, a.hash, a.hash_type, a.size, a.created_at,
       a.state, a.storage_host, r.uid AS run, r.status AS run_status, t.name AS transform, t.type AS transform_type,
       CASE WHEN json_valid(r.json) THEN json_extract(r.json, '$.wildcards') END AS wildcards,
       CASE WHEN json_valid(r.json) THEN json_extract(r.json, '$.tag') END AS tag
FROM artifacts a LEFT JOIN runs r ON r.id = a.run_id LEFT JOIN transforms t ON t.id = r.transform_id
"""

# A workflow run's jobs, and their jobs (redun and scripts can nest): `?` is the workflow run's id.
JOBS_CTE = """
WITH RECURSIVE jobs(id) AS (
  SELECT id FROM runs WHERE initiated_by_run_id = ?
  UNION
  SELECT r.id FROM runs r JOIN jobs ON r.initiated_by_run_id = jobs.id
)
"""

# Files a workflow manager or flowledger keeps for itself: listed only when asked for (`--internal`).
INTERNAL_GLOBS = ("*/.snakemake/*", "*/.flowledger/environments/*")
UID_TEXT = re.compile(r"[0-9A-Za-z]{4,20}")
VERSIONED = re.compile(r"(.+)@v(\d+)")
SINCE_AGO = re.compile(r"(\d+)\s*([mhdw])")
HASH_LIKE = re.compile(r"([a-z0-9-]+:)?[0-9a-f]{12,}")
OPEN_STATUSES = ("scheduled", "started")


# ---- runs ---------------------------------------------------------------------------------------
@dataclass(slots=True)
class RunRow:
    """One run as a listing shows it: its fields, its transform's, and what tells it apart."""

    id: int
    uid: str
    status: str
    state: str  # the status, or "unfinished" (started, and the process recording it has ended)
    started_at: str | None
    finished_at: str | None
    reference: str | None
    reference_type: str | None
    exit_code: int | None
    error: str | None
    transform: str
    transform_version: str | None
    transform_type: str
    initiated_by: str | None
    wildcards: dict | None = None
    tag: str | None = None
    explicit_version: bool = True  # False when the version is the hash of the code (rules, tasks)

    @property
    def seconds(self) -> float | None:
        return seconds_between(self.started_at, self.finished_at)

    @property
    def error_line(self) -> str:
        """The error's first non-empty line."""
        return first_line(self.error)

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "transform": self.transform,
            "transform_version": self.transform_version,
            "type": self.transform_type,
            "status": self.status,
            "state": self.state,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": self.seconds,
            "reference": self.reference,
            "reference_type": self.reference_type,
            "initiated_by_run": self.initiated_by,
            "exit_code": self.exit_code,
            "error": self.error,
            "wildcards": self.wildcards,
            "tag": self.tag,
        }


def run_row(values: tuple, ledger) -> RunRow:
    """A RunRow from a row of RUN_SQL (a tuple, in its column order)."""
    (id_, uid, status, started, finished, reference, reference_type, exit_code, error, host_name, pid, pid_start,
     transform, version, kind, code_hash, initiated_by, wildcards, tag) = values  # fmt: skip
    state = status
    if status in OPEN_STATUSES:  # derived from the recording process, as `Run.state` tells it
        fields = {"id": id_, "uid": uid, "status": status, "host": host_name, "pid": pid, "pid_start": pid_start}
        state = Run._from_row(fields, ledger).state
    return RunRow(
        id_,
        uid,
        status,
        state,
        started,
        finished,
        reference,
        reference_type,
        exit_code,
        error,
        transform,
        version,
        kind,
        initiated_by,
        _object(wildcards) if wildcards else None,
        None if tag is None else str(tag),
        not is_code_hash(version, code_hash),
    )


@dataclass
class RunQuery:
    """Which runs a listing shows (every field optional)."""

    transform: str | None = None
    reference_type: str | None = None
    status: str | None = None  # a status, or "unfinished"
    include_jobs: bool = False
    since: str | None = None  # ISO times in UTC, as the ledger keeps them
    until: str | None = None
    parent_id: int | None = None  # only the jobs of this run

    def where(self) -> tuple[str, list]:
        clauses: list[str] = []
        params: list = []
        if self.transform:
            clauses.append("t.name = ?")
            params.append(self.transform)
        if self.reference_type:
            clauses.append("r.reference_type = ?")
            params.append(self.reference_type)
        if self.status == "unfinished":
            clauses.append("r.status IN ('scheduled', 'started')")
        elif self.status:
            clauses.append("r.status = ?")
            params.append(self.status)
        if self.parent_id is not None:
            clauses.append("r.initiated_by_run_id = ?")
            params.append(self.parent_id)
        elif not self.include_jobs and not (self.transform or self.reference_type):
            clauses.append("r.initiated_by_run_id IS NULL")
        if self.since:
            clauses.append("r.started_at >= ?")
            params.append(self.since)
        if self.until:
            clauses.append("r.started_at < ?")
            params.append(self.until)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    @property
    def derived(self) -> bool:
        """Is the state asked for told per run in Python (started or unfinished), not by SQL alone?"""
        return self.status in ("started", "unfinished")

    def keeps(self, row: RunRow) -> bool:
        return not self.derived or row.state == self.status


def runs(ledger, query: RunQuery, limit: int | None = None) -> Iterator[RunRow]:
    """Runs, most recent first, as they are read; at most `limit` (None: all)."""
    where, params = query.where()
    sql = RUN_SQL + where + " ORDER BY r.id DESC"
    if limit is not None and not query.derived:
        sql += f" LIMIT {int(limit)}"
    shown = 0
    for row in stream(ledger, sql, params, tuples=True):
        found = run_row(row, ledger)
        if not query.keeps(found):
            continue
        yield found
        shown += 1
        if limit is not None and shown >= limit:
            return


def count_runs(ledger, query: RunQuery) -> int:
    where, params = query.where()
    if query.derived:
        return sum(1 for _ in runs(ledger, query))
    from_clause = RUN_SQL[RUN_SQL.index("FROM") :]
    return ledger.query(f"SELECT count(*) AS n {from_clause}{where}", params)[0]["n"]


# ---- artifacts ------------------------------------------------------------------------------------
@dataclass
class ArtifactRow:
    id: int
    uid: str
    path: str
    user_path: str | None
    kind: str
    version: int
    is_latest: bool
    hash: str | None
    hash_type: str | None
    size: int | None
    created_at: str | None
    state: str | None
    storage_host: str | None  # this host, or the network share, holding the file
    run: str | None
    run_status: str | None
    transform: str | None
    transform_type: str | None
    wildcards: dict | None = None
    tag: str | None = None
    versions: list[ArtifactRow] = field(default_factory=list)  # with --all-versions: every version, newest first

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ArtifactRow:
        values = dict(row)
        values["wildcards"] = _object(values["wildcards"])
        values["is_latest"] = bool(values["is_latest"])
        values["tag"] = None if values["tag"] is None else str(values["tag"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "path": self.path,
            "user_path": self.user_path,
            "kind": self.kind,
            "version": self.version,
            "is_latest": self.is_latest,
            "hash": self.hash,
            "hash_type": self.hash_type,
            "size": self.size,
            "created_at": self.created_at,
            "state": self.state or "present",
            "run": self.run,
            "transform": self.transform,
        }


def internal_sql(ledger) -> tuple[str, list]:
    """SQL that is true for the files kept for the workflow managers' and flowledger's own use, and for
    references (container images): what listings leave out unless asked."""
    globs = _internal_globs(ledger)
    return "(a.kind = 'reference' OR " + " OR ".join("a.path GLOB ?" for _ in globs) + ")", globs


def _internal_globs(ledger) -> list[str]:
    return [*INTERNAL_GLOBS, glob_literal(str(ledger.path.parent)) + "/environments/*"]


def _artifact_where(ledger, under: str | None, internal: bool) -> tuple[str, list]:
    clauses, params = ["a.is_latest = 1"], []
    if under:
        folder = os.path.realpath(absolute(under)).rstrip("/") or "/"
        clauses.append("(a.path = ? OR a.path GLOB ?)")
        params += [folder, glob_literal(folder.rstrip("/")) + "/*"]
    if not internal:
        sql, globs = internal_sql(ledger)
        clauses.append(f"NOT {sql}")
        params += globs
    return " WHERE " + " AND ".join(clauses), params


def artifacts(
    ledger, *, under: str | None = None, internal: bool = False, all_versions: bool = False, limit: int | None = None
) -> Iterator[ArtifactRow]:
    """The latest artifact of each path, most recently recorded first; with `all_versions`, each with its
    versions (newest first) in `.versions`."""
    where, params = _artifact_where(ledger, under, internal)
    sql = ARTIFACT_SQL + where + " ORDER BY a.id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = (ArtifactRow.from_row(row) for row in stream(ledger, sql, params))
    if not all_versions:
        yield from rows
        return
    batch: list[ArtifactRow] = []
    size = 20  # the first paths come quickly, the rest in larger batches
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield from _with_versions(ledger, batch)
            batch, size = [], 200
    yield from _with_versions(ledger, batch)


def count_artifacts(ledger, *, under: str | None = None, internal: bool = False) -> int:
    where, params = _artifact_where(ledger, under, internal)
    return ledger.query(f"SELECT count(*) AS n FROM artifacts a{where}", params)[0]["n"]


def _with_versions(ledger, latest: list[ArtifactRow]) -> Iterator[ArtifactRow]:
    if not latest:
        return
    paths = [row.path for row in latest]
    marks = ", ".join("?" * len(paths))
    versions: dict[str, list[ArtifactRow]] = {}
    for row in ledger.query(f"{ARTIFACT_SQL} WHERE a.path IN ({marks}) ORDER BY a.version DESC", paths):
        versions.setdefault(row["path"], []).append(ArtifactRow.from_row(row))
    for row in latest:
        row.versions = versions.get(row.path, [row])
        yield row


# ---- finding what a user names ------------------------------------------------------------------
def find_run(ledger, text: str) -> Run | None:
    """The run whose uid is `text` or starts with it; None if none; an error if several do."""
    exact = Run.using(ledger).filter(uid=text).one_or_none()
    if exact is not None:
        return exact
    query = Run.using(ledger).filter(uid__startswith=text)
    found = query._rows(limit=2)
    if len(found) > 1:
        raise FlowledgerError(f"{query.count()} runs start with {text!r}: give more of the uid")
    return Run._from_row(found[0], ledger) if found else None  # type: ignore[return-value]


def find_artifact(ledger, text: str, *, uids: bool = True) -> Artifact | None:
    """The artifact `text` names: a recorded path (its latest version), `PATH@vN` (version N), or an
    artifact uid (or a unique prefix of one, 4 characters at least). None if it names none."""
    try:
        found = Artifact.using(ledger).filter(path=text, is_latest=1).one_or_none()
    except InputError:
        found = None
    if found is not None:
        return found
    versioned = VERSIONED.fullmatch(text)
    if versioned:
        path, number = versioned.group(1), int(versioned.group(2))
        found = Artifact.using(ledger).filter(path=path, version=number).one_or_none()
        if found is not None:
            return found
        latest = Artifact.using(ledger).filter(path=path, is_latest=1).one_or_none()
        if latest is not None:
            raise FlowledgerError(f"{path} has versions 1 to {latest.version} in {ledger.path}, not {number}")
    if uids and UID_TEXT.fullmatch(text):
        exact = Artifact.using(ledger).filter(uid=text).one_or_none()
        if exact is not None:
            return exact
        query = Artifact.using(ledger).filter(uid__startswith=text)
        rows = query._rows(limit=2)
        if len(rows) > 1:
            if len(text) <= 16 and {row["path"] for row in query._rows(limit=1000)} == {rows[0]["path"]}:
                raise FlowledgerError(
                    f"{text!r} starts the uids of {query.count()} versions of {rows[0]['path']}: "
                    "give the whole uid, or PATH@vN"
                )
            raise FlowledgerError(f"{query.count()} artifacts start with {text!r}: give more of the uid")
        if rows:
            return Artifact._from_row(rows[0], ledger)  # type: ignore[return-value]
    return None


# ---- a workflow run, summed up ----------------------------------------------------------------------
@dataclass
class Summary:
    """A workflow run at a glance: its jobs by state, the files they made, how long it took, the slowest."""

    jobs: dict[str, int]
    files: int
    bytes: int
    replicated: int
    seconds: float | None
    slowest: list[RunRow]

    def to_dict(self) -> dict[str, Any]:
        return {
            "jobs": sum(self.jobs.values()),
            "jobs_by_state": self.jobs,
            "files_made": self.files,
            "bytes_made": self.bytes,
            "files_reproduced": self.replicated,
            "duration_s": self.seconds,
            "slowest_jobs": [
                {
                    "uid": r.uid,
                    "transform": r.transform,
                    "wildcards": r.wildcards,
                    "tag": r.tag,
                    "duration_s": r.seconds,
                }
                for r in self.slowest
            ],
        }


def summary(ledger, run: Run, slowest: int = 5) -> Summary | None:
    """The summary of a run that has jobs (None for a run without any): a handful of aggregate queries."""
    counts = ledger.query(
        f"{JOBS_CTE} SELECT r.status, count(*) AS n FROM jobs JOIN runs r ON r.id = jobs.id GROUP BY r.status",
        (run.id,),
    )
    if not counts:
        return None
    by_state = {row["status"]: row["n"] for row in counts}
    if any(status in by_state for status in OPEN_STATUSES):  # some may be unfinished: told one by one
        marks = ", ".join("?" * len(OPEN_STATUSES))
        sql = f"{JOBS_CTE} {RUN_SQL} WHERE r.id IN (SELECT id FROM jobs) AND r.status IN ({marks})"
        for row in stream(ledger, sql, (run.id, *OPEN_STATUSES), tuples=True):
            found = run_row(row, ledger)
            if found.state != found.status:
                by_state[found.status] -= 1
                by_state[found.state] = by_state.get(found.state, 0) + 1
    internal, globs = internal_sql(ledger)
    made = ledger.query(
        f"{JOBS_CTE} SELECT count(*) AS n, CAST(coalesce(sum(a.size), 0) AS BIGINT) AS bytes FROM artifacts a "
        f"WHERE (a.run_id IN (SELECT id FROM jobs) OR a.run_id = ?) AND NOT {internal}",
        (run.id, run.id, *globs),
    )[0]
    replicated = ledger.query(
        f"{JOBS_CTE} SELECT count(DISTINCT artifact_id) AS n FROM run_replicated_artifacts "
        "WHERE run_id IN (SELECT id FROM jobs) OR run_id = ?",
        (run.id, run.id),
    )[0]["n"]
    slow = stream(
        ledger,
        f"{JOBS_CTE} {RUN_SQL} WHERE r.id IN (SELECT id FROM jobs) AND r.finished_at IS NOT NULL "
        "ORDER BY julianday(r.finished_at) - julianday(r.started_at) DESC, r.id LIMIT ?",
        (run.id, slowest),
        tuples=True,
    )
    return Summary(
        jobs={state: n for state, n in sorted(by_state.items()) if n},
        files=made["n"],
        bytes=made["bytes"],
        replicated=replicated,
        seconds=seconds_between(run.started_at, run.finished_at),
        slowest=[run_row(row, ledger) for row in slow],
    )


def children(ledger, run: Run, limit: int | None = None) -> Iterator[RunRow]:
    """The runs `run` initiated (a workflow's jobs), first started first."""
    return runs_where(ledger, "r.initiated_by_run_id = ?", [run.id], limit)


def runs_where(ledger, clause: str, params: list, limit: int | None = None, order: str = "r.id") -> Iterator[RunRow]:
    sql = f"{RUN_SQL} WHERE {clause} ORDER BY {order}" + (f" LIMIT {int(limit)}" if limit is not None else "")
    return (run_row(row, ledger) for row in stream(ledger, sql, params, tuples=True))


def run_files(ledger, run: Run, *, internal: bool = False) -> list[Artifact]:
    """Every file a run and its jobs read, made or reproduced (the versions they read or made)."""
    sql = (
        "WITH RECURSIVE family(id) AS (SELECT CAST(? AS BIGINT) UNION SELECT r.id FROM runs r JOIN family "
        "ON r.initiated_by_run_id = family.id) SELECT a.* FROM artifacts a WHERE a.id IN ("
        "SELECT artifact_id FROM run_inputs WHERE run_id IN (SELECT id FROM family) "
        "UNION SELECT id FROM artifacts WHERE run_id IN (SELECT id FROM family) "
        "UNION SELECT artifact_id FROM run_replicated_artifacts WHERE run_id IN (SELECT id FROM family))"
    )
    params: list = [run.id]
    if not internal:
        condition, globs = internal_sql(ledger)
        sql += f" AND NOT {condition}"
        params += globs
    return [Artifact._from_row(row, ledger) for row in stream(ledger, sql + " ORDER BY a.path", params)]  # type: ignore[misc]


# ---- helpers ------------------------------------------------------------------------------------------
def stream(ledger, sql: str, params, size: int = 200, tuples: bool = False) -> Iterator[Any]:
    """Rows of `sql` as they are read, `size` at a time (the first ones come before the rest is read):
    dicts, or with `tuples` the plain tuples (in the order of the SELECT)."""
    for names, rows in ledger.stream(sql, list(params), size):
        if tuples:
            yield from rows
        else:
            for row in rows:
                yield dict(zip(names, row))


@functools.lru_cache(maxsize=4096)
def is_code_hash(version: str | None, code_hash: str | None = None) -> bool:
    """Is this version only a hash of the code (a rule's, a redun task's), not a version a person gave?"""
    if not version:
        return False
    if code_hash and version == code_hash[:12]:
        return True
    return bool(HASH_LIKE.fullmatch(version))


def seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return None


def first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def parse_when(text: str, *, end: bool = False) -> str:
    """A time a user types, as the ledger keeps times (ISO 8601 in UTC).

    `2026-12-01` (a day in local time: its start, or with `end` its end), `2026-12-01 14:00`, an ISO time
    with a zone, `today`, `yesterday`, or an age: `30m`, `12h`, `7d`, `2w` (that long ago).
    """
    given = text.strip().lower()
    now = datetime.now().astimezone()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if given in ("today", "yesterday"):
        day = midnight - timedelta(days=given == "yesterday")
        return _iso(day + timedelta(days=1) if end else day)
    ago = SINCE_AGO.fullmatch(given)
    if ago:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[ago.group(2)]
        return _iso(now - timedelta(**{unit: int(ago.group(1))}))
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{text!r} is not a date or time: give 2026-12-01, '2026-12-01 14:00', today, yesterday, or 7d, 12h"
        ) from None
    if end and len(text.strip()) == 10:  # a day: until its end
        moment += timedelta(days=1)
    return to_iso(moment) or ""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@functools.lru_cache(maxsize=4096)
def _object(text: str | None) -> dict | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) and value else None
