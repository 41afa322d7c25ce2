"""Copying runs from one ledger into another: a project's ledger merged into a team's, and a server ledger's
spool (what was recorded while the server was unreachable) pushed to the server.

Ids are local to a ledger, uids are global: every record is copied under its uid and its references are
remapped to the target's ids, so copying again changes nothing. Users are matched by handle and transforms
by name and version, as the writer matches them when it records (two ledgers give the same one other uids).
A record the target already holds with other content is reported as a conflict and left as it is; the one
exception is a run that has since finished: a run the target has as started takes the source's final status
(what a spool holds for a run its server saw start).

An artifact is copied with its maker run's id only if that run is in the target; when the maker arrives in
a later copy, the artifact gets it then. Artifacts (collections) are versioned per path (name): beside the
target's own versions of a path, the newest record becomes its latest (created_at first: the version
numbers of two ledgers do not compare). Each batch of runs, parents first, is one transaction of the
target, so a failure leaves it consistent and copying again completes the copy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .contract import FINAL_STATUSES
from .errors import FlowledgerError
from .ids import new_uid
from .lineage_sql import PARENT_RUNS_SQL, RUN_TREE_SQL
from .location import ServerLedger

BATCH = 200  # runs per transaction
IDS = "IN (SELECT CAST(value AS BIGINT) FROM json_each(?))"  # a JSON list of ids as one parameter
TEXTS = "IN (SELECT value FROM json_each(?))"

RECORDS = ("runs", "artifacts", "transforms", "users", "collections")
# What each record refers to: column -> table.
REFERENCES: dict[str, dict[str, str]] = {
    "users": {},
    "transforms": {"created_by_id": "users"},
    "runs": {
        "transform_id": "transforms",
        "created_by_id": "users",
        "report_id": "artifacts",
        "environment_id": "artifacts",
        "initiated_by_run_id": "runs",
    },
    "artifacts": {"run_id": "runs", "created_by_id": "users"},
    "collections": {"run_id": "runs", "created_by_id": "users"},
}
LINKS = {  # link table: its two columns and the tables they point to
    "run_inputs": (("run_id", "runs"), ("artifact_id", "artifacts")),
    "run_replicated_artifacts": (("run_id", "runs"), ("artifact_id", "artifacts")),
    "run_input_collections": (("run_id", "runs"), ("collection_id", "collections")),
    "run_replicated_collections": (("run_id", "runs"), ("collection_id", "collections")),
    "collection_artifacts": (("collection_id", "collections"), ("artifact_id", "artifacts")),
}
# What must agree for the target's record of a uid (of a name and version, for transforms) to be the source's.
COMPARED = {
    "transforms": ("type", "hash"),
    "runs": ("transform_id", "started_at", "reference", "reference_type", "initiated_by_run_id"),
    "artifacts": ("path", "kind", "hash", "version"),
    "collections": ("name", "hash", "version"),
}
RUN_PROGRESS = ("status", "finished_at", "exit_code", "error", "json")  # what changes while a run runs
FINAL = {status.value for status in FINAL_STATUSES}

Progress = Callable[[int, int], None]  # progress(runs done, runs in all)


@dataclass
class CopyReport:
    """What a copy did, per table: rows copied, already there (or updated), and the conflicts, one line each."""

    copied: dict[str, int] = field(default_factory=lambda: dict.fromkeys([*RECORDS, *LINKS], 0))
    present: dict[str, int] = field(default_factory=lambda: dict.fromkeys([*RECORDS, *LINKS], 0))
    updated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RECORDS, 0))
    conflicts: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: "copied 3 runs, 5 artifacts, ...; 2 already there; 0 conflicts"."""
        links = sum(self.copied[name] for name in LINKS)
        parts = ["copied " + ", ".join([*(_count(self.copied[t], t) for t in RECORDS), _count(links, "links")])]
        if any(self.updated.values()):
            parts.append("updated " + ", ".join(_count(n, t) for t, n in self.updated.items() if n))
        parts.append(f"{sum(self.present.values())} already there")
        parts.append(_count(len(self.conflicts), "conflicts"))
        return "; ".join(parts)


def _count(number: int, plural: str) -> str:
    return f"{number} {plural if number != 1 else plural[:-1]}"


def copy_runs(
    source: Any, target: Any, run_uids: Sequence[str] | None = None, progress: Progress | None = None
) -> CopyReport:
    """Copy runs of ledger `source` into ledger `target` (both open): all of them (then also the transforms,
    artifacts and collections no run refers to), or the runs `run_uids` (unique prefixes do) with their jobs
    and the runs above them; each with its transform, users, files, collections and links."""
    if str(source.path) == str(target.path):
        raise FlowledgerError(f"{source.path} is both the source and the target: nothing to copy")
    copier = _Copier(source, target)
    order = runs_to_copy(source, run_uids)
    for start in range(0, len(order), BATCH):
        copier.batch(order[start : start + BATCH])
        if progress:
            progress(min(start + BATCH, len(order)), len(order))
    if run_uids is None:
        rest = {table: copier.not_copied(table) for table in ("transforms", "artifacts", "collections")}
        if any(rest.values()):
            copier.batch([], **rest)
    return copier.report


def runs_to_copy(source: Any, run_uids: Sequence[str] | None) -> list[int]:
    """The ids of the runs `copy_runs` copies, each after the run that initiated it; an error for a uid the
    source does not have."""
    if run_uids is None:
        rows = source.query("SELECT id, initiated_by_run_id FROM runs")
    else:
        chosen: set[int] = set()
        for text in run_uids:
            chosen.update(row["id"] for row in source.query(RUN_TREE_SQL, (_run_id(source, text),)))
        chosen.update(row["id"] for row in source.query(PARENT_RUNS_SQL, (_json(chosen),)))
        rows = source.query(f"SELECT id, initiated_by_run_id FROM runs WHERE id {IDS}", (_json(chosen),))
    parent = {row["id"]: row["initiated_by_run_id"] for row in rows}

    def depth(run_id: int) -> int:
        steps, seen = 0, {run_id}
        while parent.get(run_id) is not None and parent[run_id] not in seen:
            run_id = parent[run_id]
            seen.add(run_id)
            steps += 1
        return steps

    return sorted(parent, key=lambda run_id: (depth(run_id), run_id))


def _run_id(source: Any, text: str) -> int:
    """The id of the run whose uid is `text`, or starts with it (an error if none or several do)."""
    rows = source.query("SELECT id FROM runs WHERE uid = ?", (text,)) or source.query(
        "SELECT id FROM runs WHERE substr(uid, 1, ?) = ? LIMIT 2", (len(text), text)
    )
    if not rows:
        raise FlowledgerError(f"no run with uid {text!r} in {source.path}")
    if len(rows) > 1:
        raise FlowledgerError(f"several runs start with {text!r} in {source.path}: give more of the uid")
    return rows[0]["id"]


def spool_path(server_ledger: ServerLedger) -> Path:
    """Where runs for the server ledger are kept while its server is unreachable."""
    return server_ledger.parent / "spool.db"


def push_spool(spool: Any, target_ledger: Any, progress: Progress | None = None) -> CopyReport:
    """Copy every run of the (opened) spool ledger into `target_ledger`, close the spool, and remove it
    once all of it is there.

    The spool stays when there were conflicts, or when something was recorded into it during the copy
    (copied again, up to three times); copying is idempotent, so a push cut short is simply pushed again.
    """
    report = CopyReport()
    spool_path = Path(spool.path)
    try:
        for _ in range(3):
            seen = spool.conn.execute("PRAGMA data_version").fetchone()[0]
            report = copy_runs(spool, target_ledger, progress=progress)
            if report.conflicts:
                return report
            if spool.conn.execute("PRAGMA data_version").fetchone()[0] == seen:  # nobody wrote meanwhile
                break
        else:  # still being written to: kept, for the next push
            return report
    finally:
        spool.close()
    for path in (spool_path, *(spool_path.with_name(spool_path.name + end) for end in ("-wal", "-shm", ".lock"))):
        path.unlink(missing_ok=True)
    return report


def _json(values: Iterable[Any]) -> str:
    return json.dumps(sorted(set(values)))


def _rows(conn: Any, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Copier:
    """One copy: the source's ids mapped to the target's, table by table, and the report."""

    def __init__(self, source: Any, target: Any):
        self.source, self.target = source, target
        self.ids: dict[str, dict[int, int]] = {table: {} for table in RECORDS}
        self.report = CopyReport()

    def not_copied(self, table: str) -> list[int]:
        """The source's records of `table` this copy has not mapped yet (no run it copied refers to them)."""
        return [row["id"] for row in self.source.query(f"SELECT id FROM {table}") if row["id"] not in self.ids[table]]

    # ---- one batch: read from the source, written in one transaction of the target ----------------------
    def batch(
        self,
        run_ids: list[int],
        transforms: Iterable[int] = (),
        artifacts: Iterable[int] = (),
        collections: Iterable[int] = (),
    ) -> None:
        """Copy these runs (parents first) with what they need, and these other records."""
        position = {run_id: index for index, run_id in enumerate(run_ids)}
        runs = sorted(self._select("runs", "id", run_ids), key=lambda row: position[row["id"]])
        links = {name: self._select(name, "run_id", run_ids) for name in LINKS if name.startswith("run_")}
        collection_ids = {*collections, *self._ids("collections", "run_id", run_ids)}
        for name in ("run_input_collections", "run_replicated_collections"):
            collection_ids.update(row["collection_id"] for row in links[name])
        links["collection_artifacts"] = self._select("collection_artifacts", "collection_id", collection_ids)
        artifact_ids = {*artifacts, *self._ids("artifacts", "run_id", run_ids)}
        artifact_ids.update(row["artifact_id"] for rows in links.values() for row in rows if "artifact_id" in row)
        artifact_ids.update(row[column] for row in runs for column in ("report_id", "environment_id") if row[column])
        artifact_rows = self._select("artifacts", "id", artifact_ids)
        collection_rows = self._select("collections", "id", collection_ids)
        transform_rows = self._select("transforms", "id", {*transforms, *(row["transform_id"] for row in runs)})
        everyone = [*runs, *artifact_rows, *collection_rows, *transform_rows]
        users = self._select("users", "id", {row["created_by_id"] for row in everyone if row["created_by_id"]})
        with self.target.write() as conn:
            self._users(conn, users)
            self._transforms(conn, transform_rows)
            changed = self._runs(conn, runs)
            new_runs = {row["id"] for row in changed}
            self._versioned(conn, "artifacts", "path", artifact_rows, new_runs)
            self._fill_in(conn, changed)
            self._versioned(conn, "collections", "name", collection_rows, new_runs)
            self._links(conn, links)

    def _select(self, table: str, column: str, ids: Iterable[int]) -> list[dict[str, Any]]:
        return self.source.query(f"SELECT * FROM {table} WHERE {column} {IDS}", (_json(ids),))

    def _ids(self, table: str, column: str, ids: Iterable[int]) -> set[int]:
        return {row["id"] for row in self.source.query(f"SELECT id FROM {table} WHERE {column} {IDS}", (_json(ids),))}

    # ---- writing into the target -------------------------------------------------------------------------
    def _mapped(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        """The row without its id, its references as the target's ids (None where the target has no such record)."""
        values = {column: value for column, value in row.items() if column != "id"}
        for column, other in REFERENCES[table].items():
            if values[column] is not None:
                values[column] = self.ids[other].get(values[column])
        return values

    def _insert(self, conn: Any, table: str, row: dict[str, Any], values: dict[str, Any]) -> None:
        columns = ", ".join(values)
        marks = ", ".join("?" * len(values))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id"
        self.ids[table][row["id"]] = conn.execute(sql, tuple(values.values())).fetchone()[0]
        self.report.copied[table] += 1

    def _conflict(self, table: str, uid: str, source: dict[str, Any], target: dict[str, Any], names: list[str]) -> None:
        """One line: the table, the uid, and the fields that differ (with their values, but for references)."""
        shown = [
            name.removesuffix("_id")
            if name.endswith("_id")
            else f"{name} {_shown(source[name])} vs {_shown(target[name])}"
            for name in names
        ]
        self.report.conflicts.append(f"{table} {uid} differs (source vs target): {'; '.join(shown)}")

    def _users(self, conn: Any, rows: list[dict[str, Any]]) -> None:
        """Users are one per handle; a uid the target gave another handle is replaced."""
        rows = [row for row in rows if row["id"] not in self.ids["users"]]
        found = _rows(
            conn,
            f"SELECT id, uid, handle FROM users WHERE handle {TEXTS} OR uid {TEXTS}",
            (_json(row["handle"] for row in rows), _json(row["uid"] for row in rows)),
        )
        by_handle = {user["handle"]: user["id"] for user in found}
        taken = {user["uid"] for user in found}
        for row in rows:
            if row["handle"] in by_handle:
                self.ids["users"][row["id"]] = by_handle[row["handle"]]
                self.report.present["users"] += 1
                continue
            values = self._mapped("users", row)
            if values["uid"] in taken:
                values["uid"] = new_uid(len(values["uid"]))
            self._insert(conn, "users", row, values)

    def _transforms(self, conn: Any, rows: list[dict[str, Any]]) -> None:
        """Transforms are one per name and version; a uid the target gave another one gets a new stem."""
        rows = [row for row in rows if row["id"] not in self.ids["transforms"]]
        found = _rows(conn, f"SELECT * FROM transforms WHERE name {TEXTS}", (_json(row["name"] for row in rows),))
        by_key = {(transform["name"], transform["version"] or ""): transform for transform in found}
        for row in rows:
            values = self._mapped("transforms", row)
            target = by_key.get((row["name"], row["version"] or ""))
            if target is None:
                if conn.execute("SELECT 1 FROM transforms WHERE uid = ?", (values["uid"],)).fetchone():
                    values["uid"] = new_uid(12) + values["uid"][12:]  # the same version number
                self._insert(conn, "transforms", row, values)
                continue
            self.ids["transforms"][row["id"]] = target["id"]
            self._compared(conn, "transforms", row["uid"], values, target)

    def _compared(self, conn: Any, table: str, uid: str, values: dict[str, Any], target: dict[str, Any]) -> None:
        """Count the target's record as the source's, or report how it differs; give it a maker it lacks."""
        differing = [name for name in COMPARED[table] if values[name] != target[name]]
        maker = values.get("run_id")
        if maker is not None and target.get("run_id") not in (None, maker):
            differing.append("run_id")
        if differing:
            self._conflict(table, uid, values, target, differing)
        elif maker is not None and target.get("run_id") is None:
            conn.execute(f"UPDATE {table} SET run_id = ? WHERE id = ?", (maker, target["id"]))
            self.report.updated[table] += 1
        else:
            self.report.present[table] += 1

    def _runs(self, conn: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Copy runs (parents first); returns those inserted or brought forward, to fill in their files."""
        found = self._by_uid(conn, "runs", rows)
        changed = []
        for row in rows:
            values = {**self._mapped("runs", row), "report_id": None, "environment_id": None}  # artifacts come next
            target = found.get(row["uid"])
            if target is None:
                self._insert(conn, "runs", row, values)
                changed.append(row)
                continue
            self.ids["runs"][row["id"]] = target["id"]
            differing = [name for name in COMPARED["runs"] if values[name] != target[name]]
            progressed = [name for name in RUN_PROGRESS if values[name] != target[name]]
            finished_here, finished_there = target["status"] in FINAL, values["status"] in FINAL
            if differing or (progressed and finished_here == finished_there):
                self._conflict("runs", row["uid"], values, target, differing or progressed)
            elif progressed and finished_there:  # it finished since the target saw it start
                assignments = ", ".join(f"{name} = ?" for name in RUN_PROGRESS)
                updated = (*(values[name] for name in RUN_PROGRESS), target["id"])
                conn.execute(f"UPDATE runs SET {assignments} WHERE id = ?", updated)
                self.report.updated["runs"] += 1
                changed.append(row)
            else:  # the same, or the target saw it finish
                self.report.present["runs"] += 1
        return changed

    def _fill_in(self, conn: Any, runs: list[dict[str, Any]]) -> None:
        """The report and environment of runs just copied (or finished), now that their artifacts are there."""
        for row in runs:
            report, environment = (self.ids["artifacts"].get(row[name]) for name in ("report_id", "environment_id"))
            if report is not None or environment is not None:
                conn.execute(
                    "UPDATE runs SET report_id = coalesce(report_id, ?), environment_id = coalesce(environment_id, ?) "
                    "WHERE id = ?",
                    (report, environment, self.ids["runs"][row["id"]]),
                )

    def _versioned(self, conn: Any, table: str, key: str, rows: list[dict[str, Any]], new_runs: set[int]) -> None:
        """Artifacts (by path) or collections (by name): copied, compared, or given their maker run."""
        for row in rows:  # copied in an earlier batch, before their maker run was there
            if row["id"] in self.ids[table] and row["run_id"] in new_runs:
                maker = self.ids["runs"][row["run_id"]]
                conn.execute(
                    f"UPDATE {table} SET run_id = ? WHERE id = ? AND run_id IS NULL",
                    (maker, self.ids[table][row["id"]]),
                )
        rows = [row for row in rows if row["id"] not in self.ids[table]]
        self._maker_runs(conn, [row["run_id"] for row in rows if row["run_id"] is not None])
        found = self._by_uid(conn, table, rows)
        keys = set()
        for row in rows:
            values = self._mapped(table, row)
            target = found.get(row["uid"])
            if target is None:
                self._insert(conn, table, row, {**values, "is_latest": 0})
                keys.add(row[key])
            else:
                self.ids[table][row["id"]] = target["id"]
                self._compared(conn, table, row["uid"], values, target)
        for value in sorted(keys):
            self._one_latest(conn, table, key, value)

    def _one_latest(self, conn: Any, table: str, key: str, value: str) -> None:
        """Exactly one latest version of a path (name): its newest record, the highest version of equal times."""
        rows = conn.execute(
            f"SELECT id, is_latest FROM {table} WHERE {key} = ? ORDER BY created_at DESC, version DESC, uid DESC",
            (value,),
        ).fetchall()
        for position, (record_id, is_latest) in enumerate(rows):
            if is_latest != (position == 0):
                conn.execute(f"UPDATE {table} SET is_latest = ? WHERE id = ?", (int(position == 0), record_id))

    def _maker_runs(self, conn: Any, run_ids: list[int]) -> None:
        """Map the source's runs that made artifacts (collections) to the target's, where it has them."""
        wanted = [run_id for run_id in run_ids if run_id not in self.ids["runs"]]
        if not wanted:
            return
        uids = {
            row["uid"]: row["id"]
            for row in self.source.query(f"SELECT id, uid FROM runs WHERE id {IDS}", (_json(wanted),))
        }
        for row in _rows(conn, f"SELECT id, uid FROM runs WHERE uid {TEXTS}", (_json(uids),)):
            self.ids["runs"][uids[row["uid"]]] = row["id"]

    def _by_uid(self, conn: Any, table: str, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        found = _rows(conn, f"SELECT * FROM {table} WHERE uid {TEXTS}", (_json(row["uid"] for row in rows),))
        return {row["uid"]: row for row in found}

    def _links(self, conn: Any, links: dict[str, list[dict[str, Any]]]) -> None:
        """The link rows between records the target now has; the ones it lacks are inserted."""
        for name, rows in links.items():
            (left, left_table), (right, right_table) = LINKS[name]
            pairs = {(self.ids[left_table].get(row[left]), self.ids[right_table].get(row[right])) for row in rows}
            pairs = {pair for pair in pairs if None not in pair}
            if not pairs:
                continue
            there = conn.execute(
                f"SELECT {left}, {right} FROM {name} WHERE {left} {IDS}", (_json(pair[0] for pair in pairs),)
            ).fetchall()
            new = sorted(pairs - {tuple(pair) for pair in there})
            if new:
                conn.executemany(f"INSERT INTO {name} ({left}, {right}) VALUES (?, ?)", new)
            self.report.copied[name] += len(new)
            self.report.present[name] += len(pairs) - len(new)
