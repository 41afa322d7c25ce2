"""Run: one execution of a Transform, with lamindb's fields plus parent run, status and error."""

import os

from ..contract import FINAL_STATUSES, StartRun
from ..errors import FlowledgerError
from ..identity import process_gone
from ..ids import new_uid
from ..paths import absolute, host
from ..recorder import recorder_for
from ..registry import Query, Record
from ..timestamps import now
from ..writer import RUN_UPDATABLE
from .artifact import Artifact
from .collection import Collection


class Run(Record):
    _table = "runs"
    _fields = (
        "uid",
        "started_at",
        "finished_at",
        "json",
        "is_consecutive",
        "reference",
        "reference_type",
        "created_at",
        "status",
        "exit_code",
        "error",
        "host",
        "pid",
        "pid_start",
    )
    _foreign = {
        "transform": ("transform_id", "Transform"),
        "created_by": ("created_by_id", "User"),
        "report": ("report_id", "Artifact"),
        "environment": ("environment_id", "Artifact"),
        "initiated_by_run": ("initiated_by_run_id", "Run"),
    }
    _json_fields = ("json",)

    def __init__(self, transform=None, reference=None, reference_type=None, **fields):
        fields.setdefault("status", "started")
        super().__init__(transform=transform, reference=reference, reference_type=reference_type, **fields)

    def save(self) -> "Run":
        """Insert a new run, or write changed fields of a saved one."""
        ledger = self._ledger_for_saving()
        if self.id is None:
            if self._row.get("transform_id") is None:
                raise FlowledgerError("a Run needs a saved Transform: Run(transform, ...)")
            recorder = recorder_for(ledger)
            initiated_by = self.initiated_by_run.uid if self.initiated_by_run else None
            start = StartRun(
                self._row["transform_id"],
                self.uid or new_uid(16),
                reference=self.reference,
                reference_type=self.reference_type,
                initiated_by=initiated_by,
                started_at=self.started_at,
                json=self.json,
                status=self.status,
            )
            self._take_row(recorder.start(start), ledger)  # the foreign records it holds stay valid
            return self
        if self.status in FINAL_STATUSES and not self._row.get("finished_at"):
            self._row["finished_at"] = now()
        stored: dict = self.__dict__.get("_stored", {})
        fields = {column: self._row.get(column) for column in RUN_UPDATABLE if _changed(self._row, stored, column)}
        if "started_at" in fields or "finished_at" in fields:  # (both: the writer checks their order)
            fields.update(started_at=self._row.get("started_at"), finished_at=self._row.get("finished_at"))
        if fields:
            recorder_for(ledger).update_run(self.id, self.uid, fields, was=stored.get("status"))
            stored.update(fields)
        return self

    @property
    def state(self) -> str:
        """The status, except that a started run whose recording process has ended is `unfinished`.

        Derived when asked (nothing is rewritten): after a `kill -9` or a full disk, the run stays `started`
        in the ledger, but no process will ever finish it. Told for runs recorded on this host only.
        """
        return derived_state(self._row)

    @property
    def is_consecutive(self) -> bool | None:
        value = self._row.get("is_consecutive")
        return None if value is None else bool(value)

    @is_consecutive.setter
    def is_consecutive(self, value: bool | None) -> None:
        self._row["is_consecutive"] = value

    @property
    def inputs(self) -> "LinkedArtifacts":
        return LinkedArtifacts(self, "input", "id IN (SELECT artifact_id FROM run_inputs WHERE run_id = ?)")

    @property
    def outputs(self) -> "LinkedArtifacts":
        return LinkedArtifacts(self, "output", "run_id = ?")

    @property
    def replicated_output_artifacts(self) -> Query:
        return Artifact.using(self._store).where_sql(
            "id IN (SELECT artifact_id FROM run_replicated_artifacts WHERE run_id = ?)", self.id
        )

    @property
    def input_collections(self) -> Query:
        return Collection.using(self._store).where_sql(
            "id IN (SELECT collection_id FROM run_input_collections WHERE run_id = ?)", self.id
        )

    @property
    def output_collections(self) -> Query:
        return Collection.using(self._store).filter(run=self)

    @property
    def replicated_output_collections(self) -> Query:
        return Collection.using(self._store).where_sql(
            "id IN (SELECT collection_id FROM run_replicated_collections WHERE run_id = ?)", self.id
        )

    @property
    def children(self) -> Query:
        """Runs this run initiated (a workflow's jobs)."""
        return Run.using(self._store).filter(initiated_by_run=self)


def _changed(row: dict, stored: dict, column: str) -> bool:
    """Whether `save()` writes this column: its value differs from what was read or last saved (a json
    field that was read may have been changed in place: it is written)."""
    value = row.get(column)
    return isinstance(value, (dict, list)) or value != stored.get(column)


def derived_state(row: dict) -> str:
    """`Run.state` from a run's row: `unfinished` for a started run of this host whose process has ended."""
    ours = row["status"] in ("scheduled", "started") and row.get("host") == host()
    return "unfinished" if ours and process_gone(row.get("pid"), row.get("pid_start")) else row["status"]


class LinkedArtifacts(Query):
    """`run.inputs` / `run.outputs`: a query over the run's artifacts that can also `add()` paths."""

    def __init__(self, run: Run, role: str, clause: str):
        super().__init__(Artifact, [clause], [run.id], ledger=run._store)
        self.run, self.role = run, role

    def add(self, *items, missing_ok: bool = False) -> None:
        """Link files, folders or Artifacts (a path is hashed and becomes an artifact version).

        A path that does not exist is an error, unless `missing_ok`: then it is listed in the run's json
        (`missing_inputs` / `missing_outputs`).
        """
        if self.run.id is None:
            raise FlowledgerError("save the run before adding its inputs or outputs")
        given = list(_flatten(items))
        paths = [item.path if isinstance(item, Record) else item for item in given]
        missing = [str(p) for p in paths if not os.path.lexists(absolute(p))]
        if missing and not missing_ok:
            raise FlowledgerError(
                f"{missing[0]}: no such file or folder, so it cannot be an {self.role} of run "
                f"{self.run.uid} (pass missing_ok=True to record it as missing)"
            )
        recorder = recorder_for(self.run._ledger_for_saving(*given))
        if self.role == "input":
            recorder.add_inputs(self.run.uid, paths)
        else:
            recorder.add_outputs(self.run.uid, paths)


def _flatten(items):
    for item in items:
        if isinstance(item, (list, tuple, set)):
            yield from item
        else:
            yield item
