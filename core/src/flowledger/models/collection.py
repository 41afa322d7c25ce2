"""Collection: a named, versioned set of artifacts."""

from ..errors import FlowledgerError
from ..recorder import recorder_for
from ..registry import Query, Record
from .artifact import Artifact


class Collection(Record):
    _table = "collections"
    _fields = ("uid", "name", "version", "is_latest", "description", "hash", "created_at")
    _foreign = {"run": ("run_id", "Run"), "created_by": ("created_by_id", "User")}

    def __init__(self, artifacts=None, name: str | None = None, *, run=None, description=None):
        super().__init__(name=name, run=run, description=description)
        self._members = list(artifacts or [])

    def save(self) -> "Collection":
        """Same name and same members: the existing collection (a replicated output when another run made it)."""
        if self.id is not None:
            return self
        if not self.name:
            raise FlowledgerError("a Collection needs a name")
        ledger = self._ledger_for_saving(*self._members)
        members = [a if isinstance(a, Artifact) else Artifact(a, run=self.run) for a in self._members]
        members = [a.save() for a in members]
        collection_id = recorder_for(ledger).save_collection(
            self.name, [a.id for a in members], run_id=self._row.get("run_id"), description=self.description
        )
        return self._become(collection_id, ledger)

    @property
    def artifacts(self) -> Query:
        return Artifact.using(self._store).where_sql(
            "id IN (SELECT artifact_id FROM collection_artifacts WHERE collection_id = ?)", self.id
        )
