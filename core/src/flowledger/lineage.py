"""Ancestors and descendants: one recursive SQL query each, over the graph artifact <-> run.

Edges: an artifact was made by its `run`; a run used its `inputs`. Walking up from an artifact
alternates between the two until raw inputs (artifacts no run made) are reached.
"""

from dataclasses import dataclass, field

from .models import Artifact, Run

ANCESTORS_SQL = """
WITH RECURSIVE
  nodes(kind, id) AS (
    SELECT ?, ?
    UNION
    SELECT 'run', (SELECT a.run_id FROM artifacts a WHERE a.id = nodes.id) FROM nodes WHERE nodes.kind = 'artifact'
    UNION
    SELECT 'artifact', ri.artifact_id FROM nodes JOIN run_inputs ri ON nodes.kind = 'run' AND ri.run_id = nodes.id
  )
SELECT kind, id FROM nodes WHERE id IS NOT NULL
"""
# (The artifact -> run step is a scalar subquery, not a join: with table statistics (ANALYZE) SQLite would
# otherwise plan the join as a scan of every artifact.)

DESCENDANTS_SQL = """
WITH RECURSIVE
  nodes(kind, id) AS (
    SELECT ?, ?
    UNION
    SELECT 'run', ri.run_id FROM nodes JOIN run_inputs ri ON nodes.kind = 'artifact' AND ri.artifact_id = nodes.id
    UNION
    SELECT 'artifact', a.id FROM nodes JOIN artifacts a ON nodes.kind = 'run' AND a.run_id = nodes.id
  )
SELECT kind, id FROM nodes
"""


@dataclass
class Graph:
    """A lineage subgraph: its runs, artifacts and edges (source -> target, both as (kind, id))."""

    root: tuple[str, int]
    runs: dict[int, Run] = field(default_factory=dict)
    artifacts: dict[int, Artifact] = field(default_factory=dict)
    edges: list[tuple[tuple[str, int], tuple[str, int]]] = field(default_factory=list)


def ancestors(record) -> Graph:
    """Everything upstream of an Artifact or Run, back to the raw inputs."""
    return _walk(record, ANCESTORS_SQL)


def descendants(record) -> Graph:
    """Everything downstream of an Artifact or Run."""
    return _walk(record, DESCENDANTS_SQL)


def _walk(record, sql: str) -> Graph:
    kind = "run" if isinstance(record, Run) else "artifact"
    ledger = record._store
    rows = ledger.query(sql, (kind, record.id))
    run_ids = [r["id"] for r in rows if r["kind"] == "run"]
    artifact_ids = [r["id"] for r in rows if r["kind"] == "artifact"]
    graph = Graph(root=(kind, record.id))
    graph.runs = {r.id: r for r in _chunked(Run, ledger, run_ids)}
    graph.artifacts = {a.id: a for a in _chunked(Artifact, ledger, artifact_ids)}
    for artifact in graph.artifacts.values():
        if artifact.run_id in graph.runs:
            graph.edges.append((("run", artifact.run_id), ("artifact", artifact.id)))
    for chunk in _chunks(run_ids):
        marks = ", ".join("?" * len(chunk))
        for row in ledger.query(f"SELECT run_id, artifact_id FROM run_inputs WHERE run_id IN ({marks})", chunk):
            if row["artifact_id"] in graph.artifacts:
                graph.edges.append((("artifact", row["artifact_id"]), ("run", row["run_id"])))
    return graph


def _chunks(ids: list[int], size: int = 900):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _chunked(model, ledger, ids: list[int]) -> list:
    found = []
    for chunk in _chunks(ids):
        found.extend(model.using(ledger).filter(id__in=chunk).all())
    return found


def to_dict(graph: Graph) -> dict:
    """A JSON-ready view: nodes with their main fields, and edges by uid."""

    def uid(node):
        kind, key = node
        return (graph.runs if kind == "run" else graph.artifacts)[key].uid

    return {
        "root": uid(graph.root),
        "runs": [
            {
                "uid": r.uid,
                "transform": r.transform.name,
                "transform_version": r.transform.version,
                "type": r.transform.type,
                "status": r.status,
                "reference": r.reference,
                "reference_type": r.reference_type,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "initiated_by_run": r.initiated_by_run.uid if r.initiated_by_run else None,
            }
            for r in graph.runs.values()
        ],
        "artifacts": [
            {
                "uid": a.uid,
                "path": a.path,
                "user_path": a.user_path,
                "kind": a.kind,
                "state": a.state or "present",  # "deleted": gone when recorded
                "hash": a.hash,
                "hash_type": a.hash_type,
                "version": a.version,
                "run": graph.runs[a.run_id].uid if a.run_id in graph.runs else None,
            }
            for a in graph.artifacts.values()
        ],
        "edges": [{"from": uid(s), "to": uid(t)} for s, t in graph.edges],
    }
