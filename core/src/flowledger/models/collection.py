"""Collection: a named, versioned set of artifacts."""

import hashlib

from ..errors import FlowledgerError
from ..ids import new_uid, version_suffix
from ..recorder import recorder_for
from ..timestamps import now
from .artifact import Artifact
from .registry import Query, Record


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
        members = [a if isinstance(a, Artifact) else Artifact(a, run=self.run) for a in self._members]
        members = [a.save() for a in members]
        digest = hashlib.sha256("".join(sorted(f"{a.hash}\n" for a in members)).encode()).hexdigest()
        ledger = self._store
        run_id = self._row.get("run_id")
        with ledger.write() as conn:
            latest = conn.execute("SELECT id, uid, hash, run_id, version FROM collections WHERE name = ? AND "
                                  "is_latest = 1", (self.name,)).fetchone()
            if latest and latest[2] == digest:
                collection_id = latest[0]
                if run_id and latest[3] != run_id:
                    conn.execute("INSERT OR IGNORE INTO run_replicated_collections VALUES (?, ?)",
                                 (run_id, collection_id))
            else:
                version, stem = (latest[4] + 1, latest[1][:16]) if latest else (1, new_uid(16))
                if latest:
                    conn.execute("UPDATE collections SET is_latest = 0 WHERE id = ?", (latest[0],))
                cursor = conn.execute(
                    "INSERT INTO collections (uid, name, version, is_latest, description, hash, run_id, created_by_id,"
                    " created_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)",
                    (stem + version_suffix(version), self.name, version, self.description, digest, run_id,
                     recorder_for(ledger).user_id(conn, None), now()))
                collection_id = cursor.lastrowid
                conn.executemany("INSERT OR IGNORE INTO collection_artifacts VALUES (?, ?)",
                                 [(collection_id, a.id) for a in members])
        return self._become(collection_id, ledger)

    @property
    def artifacts(self) -> Query:
        return Artifact.using(self._store).where_sql(
            "id IN (SELECT artifact_id FROM collection_artifacts WHERE collection_id = ?)", self.id)
