"""Artifact: a file or folder at a path with a content hash; a new hash at the same path is a new version."""

import os

from ..errors import FlowledgerError
from ..mounts import storage_of
from ..paths import absolute, located
from ..recorder import recorder_for
from ..registry import MODELS, Query, Record, _condition


class Artifact(Record):
    _table = "artifacts"
    _fields = (
        "uid",
        "path",
        "kind",
        "storage_host",
        "storage_root",
        "suffix",
        "size",
        "hash",
        "hash_type",
        "version",
        "is_latest",
        "description",
        "created_at",
        "state",
        "user_path",
    )
    _foreign = {"run": ("run_id", "Run"), "created_by": ("created_by_id", "User")}

    def __init__(self, path=None, *, run=None, description=None):
        super().__init__(path=absolute(path) if path is not None else None, run=run, description=description)

    @classmethod
    def filter(cls, **fields) -> Query:
        """`path=` matches the latest version of that path (relative paths are taken from the cwd)."""
        if "path" in fields and not {"version", "is_latest", "uid", "id"} & fields.keys():
            fields["is_latest"] = 1
        return super().filter(**fields)

    @classmethod
    def _condition(cls, name, op, value):
        """A path is found as given or through symlinked folders, relative to the working directory, on the
        storage it is on here (`mounts.storage_of`: in a shared ledger, another host's local disk is another file).

        (A fragment, `path__contains`, is matched as it is.)
        """
        if name != "path" or not isinstance(value, str) or "://" in value:
            return None
        if op == "exact":  # (the file at this path here: on this host's disk, or on the share it is on)
            real, given = located(value)
            here = storage_of(real).host
            return ("(path = ? OR user_path = ?) AND coalesce(storage_host, ?) = ?", real, given, here, here)
        if op == "under":
            return _condition(cls, "path__under", os.path.realpath(absolute(value)), plain=True)
        if op == "startswith":
            return _condition(cls, "path__startswith", located(value)[0], plain=True)
        return None

    def save(self) -> "Artifact":
        """Register the file: an output of `run` when given, else a raw input."""
        if self.id is not None:
            return self
        if not self.path:
            raise FlowledgerError("an Artifact needs a path")
        ledger = self._ledger_for_saving()
        artifact_id = recorder_for(ledger).register_artifact(
            self.path, run_uid=self.run.uid if self.run else None, description=self.description
        )
        return self._become(artifact_id, ledger)

    @property
    def storage(self) -> str:
        return f"{self.storage_host}:{self.storage_root}"

    @property
    def versions(self) -> Query:
        """Every version of this file (this path on this artifact's storage), the first first. (`path__in`:
        the path as recorded, not looked up from the working directory and this host as `path=` is.)"""
        return (
            Artifact.using(self._store)
            .filter(path__in=[self.path], storage_host=self.storage_host, is_latest__in=(0, 1))
            .order_by("version")
        )

    @property
    def input_of_runs(self) -> Query:
        return (
            MODELS["Run"]
            .using(self._store)
            .where_sql("id IN (SELECT run_id FROM run_inputs WHERE artifact_id = ?)", self.id)
        )

    @property
    def replicating_runs(self) -> Query:
        """Runs that wrote these same bytes again (re-runs that reproduced this artifact)."""
        return (
            MODELS["Run"]
            .using(self._store)
            .where_sql("id IN (SELECT run_id FROM run_replicated_artifacts WHERE artifact_id = ?)", self.id)
        )
