"""The lineage walks as SQL, written once for both stores (SQLite, and PostgreSQL through `postgres.translate`).

A module of its own, importing nothing, so that `copying` (which the store calls to push a spool) can use
them without importing the models.
"""

# Walks over the graph artifact <-> run from one or several seeds, given as JSON: `seeds(("artifact", 7))`.
# Each takes all its steps in one recursive SELECT (PostgreSQL allows one): a LEFT JOIN per kind of edge,
# of which the node's kind keeps one.
ANCESTORS_SQL = """
WITH RECURSIVE
  nodes(kind, id) AS (
    SELECT json_extract(value, '$[0]'), CAST(json_extract(value, '$[1]') AS BIGINT) FROM json_each(?)
    UNION
    SELECT CASE WHEN n.kind = 'artifact' THEN 'run' ELSE 'artifact' END,
           CASE WHEN n.kind = 'artifact' THEN a.run_id ELSE ri.artifact_id END
    FROM nodes n
    LEFT JOIN artifacts a ON n.kind = 'artifact' AND a.id = n.id
    LEFT JOIN run_inputs ri ON n.kind = 'run' AND ri.run_id = n.id
    WHERE n.id IS NOT NULL
  )
SELECT kind, id FROM nodes WHERE id IS NOT NULL
"""

DESCENDANTS_SQL = """
WITH RECURSIVE
  nodes(kind, id) AS (
    SELECT json_extract(value, '$[0]'), CAST(json_extract(value, '$[1]') AS BIGINT) FROM json_each(?)
    UNION
    SELECT CASE WHEN n.kind = 'artifact' THEN 'run' ELSE 'artifact' END, coalesce(ri.run_id, a.id, rra.artifact_id)
    FROM nodes n
    JOIN (SELECT 1 AS step UNION ALL SELECT 2 UNION ALL SELECT 3) s
      ON (s.step = 1 AND n.kind = 'artifact') OR (s.step > 1 AND n.kind = 'run')
    LEFT JOIN run_inputs ri ON s.step = 1 AND ri.artifact_id = n.id
    LEFT JOIN artifacts a ON s.step = 2 AND a.run_id = n.id
    LEFT JOIN run_replicated_artifacts rra ON s.step = 3 AND rra.run_id = n.id
    WHERE n.id IS NOT NULL
  )
SELECT kind, id FROM nodes WHERE id IS NOT NULL
"""


RUN_TREE_SQL = """
WITH RECURSIVE tree(id) AS (
  SELECT CAST(? AS BIGINT) UNION SELECT r.id FROM runs r JOIN tree ON r.initiated_by_run_id = tree.id
)
SELECT id FROM tree
"""
"""A run and every run under it (a workflow run's jobs, and theirs), by id."""

PARENT_RUNS_SQL = """
WITH RECURSIVE up(id) AS (
  SELECT r.initiated_by_run_id FROM runs r WHERE r.id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))
  UNION SELECT r.initiated_by_run_id FROM runs r JOIN up ON r.id = up.id
)
SELECT id FROM up WHERE id IS NOT NULL
"""
"""Every run above the given ones (a JSON list of ids): their workflow runs, up to the outermost."""
