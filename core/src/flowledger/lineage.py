"""Ancestors and descendants: one recursive SQL query each, over the graph artifact <-> run.

Edges: an artifact was made by its `run`; a run used its `inputs`. Walking up from an artifact
alternates between the two until raw inputs (artifacts no run made) are reached. A run that wrote bytes an
earlier run had already made (a re-run, a cache hit) replicated that artifact: walking down, its
replicated artifacts are its outputs; walking up, the runs that replicated an artifact are shown beside
its maker (`Graph.replications`), without walking up from them.

`find_by_content(path)` finds the recorded artifacts with the content of a file, wherever and whenever
they were recorded: the lineage of a copy, of a moved project, of a downloaded result.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from .errors import InputError
from .hashing import Hasher
from .lineage_sql import ANCESTORS_SQL, DESCENDANTS_SQL, PARENT_RUNS_SQL, RUN_TREE_SQL  # noqa: F401  (re-exported)
from .models import Artifact, Run, Transform
from .store import get_ledger


@dataclass
class Graph:
    """A lineage subgraph: its runs, artifacts and edges (source -> target, both as (kind, id))."""

    root: tuple[str, int]
    runs: dict[int, Run] = field(default_factory=dict)
    artifacts: dict[int, Artifact] = field(default_factory=dict)
    edges: list[tuple[tuple[str, int], tuple[str, int]]] = field(default_factory=list)
    # (run id, artifact id): the run wrote the artifact's bytes again; also in `edges` as run -> artifact
    replications: list[tuple[int, int]] = field(default_factory=list)

    def replicated_by(self, artifact_id: int) -> list[Run]:
        """The runs that reproduced this artifact's bytes (re-runs, cache hits), oldest first."""
        return sorted((self.runs[r] for r, a in self.replications if a == artifact_id), key=lambda run: run.id)

    def is_replication(self, run_id: int, artifact_id: int) -> bool:
        return (run_id, artifact_id) in set(self.replications)


def ancestors(record) -> Graph:
    """Everything upstream of an Artifact or Run, back to the raw inputs."""
    return _walk(record, ANCESTORS_SQL)


def descendants(record) -> Graph:
    """Everything downstream of an Artifact or Run."""
    return _walk(record, DESCENDANTS_SQL)


def seeds(*nodes: tuple[str, int]) -> str:
    """The parameter of ANCESTORS_SQL and DESCENDANTS_SQL: the nodes to walk from, as a JSON list."""
    return json.dumps([list(node) for node in nodes])


def _walk(record, sql: str) -> Graph:
    kind = "run" if isinstance(record, Run) else "artifact"
    ledger = record._store
    rows = ledger.query(sql, (seeds((kind, record.id)),))
    run_ids = [r["id"] for r in rows if r["kind"] == "run"]
    artifact_ids = [r["id"] for r in rows if r["kind"] == "artifact"]
    upstream = sql is ANCESTORS_SQL
    replications = []
    for chunk in _chunks(artifact_ids if upstream else run_ids):
        marks = ", ".join("?" * len(chunk))
        column = "artifact_id" if upstream else "run_id"
        query = f"SELECT run_id, artifact_id FROM run_replicated_artifacts WHERE {column} IN ({marks})"
        replications += [(row["run_id"], row["artifact_id"]) for row in ledger.query(query, chunk)]
    rerun_ids = [r for r, _ in replications if r not in set(run_ids)] if upstream else []
    graph = Graph(root=(kind, record.id))
    graph.runs = {r.id: r for r in _chunked(Run, ledger, run_ids + sorted(set(rerun_ids)))}
    graph.artifacts = {a.id: a for a in _chunked(Artifact, ledger, artifact_ids)}
    _with_transforms(ledger, graph.runs.values())
    for artifact in graph.artifacts.values():
        if artifact.run_id in graph.runs:
            graph.edges.append((("run", artifact.run_id), ("artifact", artifact.id)))
    for run_id, artifact_id in replications:
        if run_id in graph.runs and artifact_id in graph.artifacts:
            graph.replications.append((run_id, artifact_id))
            graph.edges.append((("run", run_id), ("artifact", artifact_id)))
    for chunk in _chunks(run_ids):  # the inputs of the runs walked through (not those of re-runs, upstream)
        marks = ", ".join("?" * len(chunk))
        for row in ledger.query(f"SELECT run_id, artifact_id FROM run_inputs WHERE run_id IN ({marks})", chunk):
            if row["artifact_id"] in graph.artifacts:
                graph.edges.append((("artifact", row["artifact_id"]), ("run", row["run_id"])))
    return graph


def _with_transforms(ledger, runs) -> None:
    """Give each run its Transform, read in one query (not one per run when the graph is shown)."""
    runs = list(runs)
    transforms = {t.id: t for t in _chunked(Transform, ledger, sorted({r.transform_id for r in runs}))}
    for run in runs:
        if run.transform_id in transforms:
            run._related["transform"] = transforms[run.transform_id]


def _chunks(ids: list[int], size: int = 900):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _chunked(model, ledger, ids: list[int]) -> list:
    found = []
    for chunk in _chunks(ids):
        found.extend(model.using(ledger).filter(id__in=chunk).all())
    return found


def to_dict(graph: Graph, checked=None) -> dict:
    """A JSON-ready view: nodes with their main fields, and edges by uid.

    `checked`: `verify.check()`'s answer for the graph's artifacts (a list, or a dict by artifact id); each
    artifact's `on_disk` then says "unchanged", "changed" or "missing" (None: not checked, or not a file).
    Each artifact's `replicated_by` lists the runs that reproduced its bytes.
    """
    on_disk = _by_artifact_id(checked)
    parents = _uids(graph.runs.values())

    def uid(node):
        kind, key = node
        return (graph.runs if kind == "run" else graph.artifacts)[key].uid

    def artifact(a) -> dict:
        found = on_disk.get(a.id)
        return {
            "uid": a.uid,
            "path": a.path,
            "user_path": a.user_path,
            "kind": a.kind,
            "state": a.state or "present",  # "deleted": gone when recorded
            "on_disk": found.state.value if found is not None else None,
            "on_disk_detail": found.detail if found is not None and found.detail else None,
            "hash": a.hash,
            "hash_type": a.hash_type,
            "size": a.size,
            "version": a.version,
            "is_latest": bool(a.is_latest),
            "created_at": a.created_at,
            "run": graph.runs[a.run_id].uid if a.run_id in graph.runs else None,
            "replicated_by": [r.uid for r in graph.replicated_by(a.id)],
        }

    return {
        "root": uid(graph.root),
        "runs": [
            {
                "uid": r.uid,
                "transform": r.transform.name,
                "transform_version": r.transform.version,
                "type": r.transform.type,
                "status": r.status,
                "state": r.state,
                "reference": r.reference,
                "reference_type": r.reference_type,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "initiated_by_run": parents.get(r.initiated_by_run_id),
                "wildcards": (r.json or {}).get("wildcards") or None,
                "tag": (r.json or {}).get("tag"),
                "error": r.error,
            }
            for r in graph.runs.values()
        ],
        "artifacts": [artifact(a) for a in graph.artifacts.values()],
        "edges": [{"from": uid(s), "to": uid(t)} for s, t in graph.edges],
        "replications": [{"run": graph.runs[r].uid, "artifact": graph.artifacts[a].uid} for r, a in graph.replications],
    }


def _by_artifact_id(checked) -> dict:
    if not checked:
        return {}
    if isinstance(checked, dict):
        return checked
    return {one.artifact.id: one for one in checked}


def _uids(runs) -> dict[int, str]:
    """{run id: uid} of the runs that initiated these runs, in one query per 900."""
    runs = list(runs)
    wanted = sorted({r.initiated_by_run_id for r in runs if r.initiated_by_run_id is not None})
    found: dict[int, str] = {}
    for chunk in _chunks(wanted):
        marks = ", ".join("?" * len(chunk))
        for row in runs[0]._store.query(f"SELECT id, uid FROM runs WHERE id IN ({marks})", chunk):
            found[row["id"]] = row["uid"]
    return found


def find_by_content(path: str | os.PathLike, db=None, *, ledger=None) -> list[Artifact]:
    """The recorded artifacts holding the same content as the file or folder at `path` now, at any path and
    in any version: made by a run first (the newest first), then raw inputs.

    The file is hashed as recording hashes it (the stat cache first), and nothing is written. A file that
    does not exist raises `InputError`; a pipe, socket or device has no content, so it matches nothing.
    """
    ledger = ledger or get_ledger(db)
    content = Hasher(ledger).content(path)
    if content.gone:  # (what the ledger knew of a file at this path: not a file to compare)
        raise InputError(f"{path}: no such file or folder")
    if content.hash is None:
        return []
    found = Artifact.using(ledger).filter(hash=content.hash, hash_type=content.hash_type).all()
    return sorted(found, key=lambda a: (a.run_id is None, -a.id))
