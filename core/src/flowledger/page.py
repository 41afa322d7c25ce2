"""The lineage page: one self-contained HTML file showing the lineage graph of a file or of a run.

`build(target)` reads what the page shows from the ledger, with a handful of queries in chunks (a
5,000-node page must not build 5,000 models that each query their transform), and lays the graph out;
`render(data)` inlines the data as JSON, and the page's own script and style (`static/`), into one HTML
file that works offline: from a file:// URL, or as an e-mail attachment.

The layout is computed in Python (`page_layout`), not in the browser. The page draws it on a canvas of
its own. Measured in headless Chromium on 5,253 nodes
(`bench/view_render.py`): dagre took 11 s and ELK 13 s to lay it out, and Cytoscape.js 3.35, given
these positions, 3.2 s of CPU to draw its first frame; the page's own canvas takes about 0.3 s.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any, cast

from .errors import FlowledgerError
from .exporting import manager_name
from .lineage import ANCESTORS_SQL, DESCENDANTS_SQL, PARENT_RUNS_SQL, RUN_TREE_SQL
from .models import Artifact
from .models.run import derived_state
from .page_layout import NODE_HEIGHT, NODE_WIDTH, box_geometry, extent, layout
from .paths import absolute
from .registry import glob_literal
from .store import Ledger, existing_ledger
from .timestamps import now
from .verify import FileState, check

CHUNK = 900  # ids per `IN (...)`: under SQLite's old limit of 999 parameters
LISTED = 200  # runs listed per artifact ("read by", "reproduced by"); the total is given too

RUNS_SQL = """
SELECT r.id, r.uid, r.transform_id, r.started_at, r.finished_at, r.json, r.reference, r.reference_type,
       r.initiated_by_run_id AS parent_id, r.status, r.exit_code, r.error, r.host, r.pid, r.pid_start, r.created_at,
       u.handle AS user, e.path AS environment, p.path AS report, t.name,
       (SELECT count(*) FROM runs c WHERE c.initiated_by_run_id = r.id) AS children
FROM runs r JOIN transforms t ON t.id = r.transform_id LEFT JOIN users u ON u.id = r.created_by_id
LEFT JOIN artifacts e ON e.id = r.environment_id
LEFT JOIN artifacts p ON p.id = r.report_id WHERE r.id IN ({marks})
"""
TRANSFORMS_SQL = (
    "SELECT id, uid, name, version, type, description, reference, reference_type, source_code "
    "FROM transforms WHERE id IN ({marks})"
)
ARTIFACTS_SQL = (
    "SELECT id, uid, path, user_path, kind, storage_host, size, hash, hash_type, version, is_latest, description, "
    "run_id, created_at, state FROM artifacts WHERE id IN ({marks})"
)
VERSIONS_SQL = (
    "SELECT a.id, a.uid, a.path, a.version, a.hash, a.hash_type, a.size, a.created_at, a.state, r.uid AS run_uid "
    "FROM artifacts a LEFT JOIN runs r ON r.id = a.run_id WHERE a.path IN ({marks}) ORDER BY a.version"
)
LINKED_RUNS_SQL = (  # runs linked to artifacts through `table`: those that read them, or reproduced them
    "SELECT l.artifact_id, r.id, r.uid, r.status, t.name FROM {table} l JOIN runs r ON r.id = l.run_id "
    "JOIN transforms t ON t.id = r.transform_id WHERE l.artifact_id IN ({{marks}}) ORDER BY r.id"
)
MADE_BY_SQL = (
    "SELECT r.id, r.uid, r.status, t.name FROM runs r JOIN transforms t ON t.id = r.transform_id "
    "WHERE r.id IN ({marks})"
)


@dataclass(frozen=True)
class _File:
    """What `verify.check` needs of an artifact."""

    id: int
    path: str
    hash: str | None
    kind: str
    storage_host: str | None


# ---- what the page shows ----------------------------------------------------------------------------


def build(
    target: str | os.PathLike,
    db: str | os.PathLike | None = None,
    *,
    downstream: bool = False,
    check_files: bool = True,
) -> dict[str, Any]:
    """The page's data: the lineage of a recorded file (its path) or of a run (a uid or unique prefix).

    A file: its ancestors back to the raw inputs (and its descendants with `downstream`). A run: the run,
    its job runs and every file they read, wrote or reproduced (and what was made from those, with
    `downstream`). The workflow runs of the jobs shown are boxes around them. `check_files` compares
    each file with the disk now (`verify.check`): changed or missing files are marked.
    """
    ledger = existing_ledger(db)
    kind, key, subject = _resolve(ledger, target)
    run_ids, artifact_ids = _collect(ledger, kind, key, downstream)
    runs = _runs(ledger, run_ids)
    artifacts = {row["id"]: row for row in _select(ledger, ARTIFACTS_SQL, artifact_ids)}
    edges = _edges(ledger, runs, artifacts)
    transform_ids = sorted({run["transform_id"] for run in runs.values()})
    transforms = {row["id"]: row for row in _select(ledger, TRANSFORMS_SQL, transform_ids)}
    nodes = [_run_node(run, runs, transforms) for run in runs.values()]
    nodes += _artifact_nodes(ledger, artifacts, runs, check_files)
    _place(nodes, edges)
    what = "its jobs" if kind == "run" else "upstream"
    return {
        "subject": subject,
        "root": f"{kind[0]}{key}",
        "direction": f"{what} and downstream" if downstream else what,
        "ledger": str(ledger.path),
        "generated_at": now()[:19].replace("T", " ") + " UTC",
        "checked": check_files,
        "node_size": [NODE_WIDTH, NODE_HEIGHT],
        "extent": extent(nodes),
        "counts": {
            "nodes": len(nodes),
            "edges": len(edges),
            "runs": len(runs),
            "artifacts": len(artifacts),
            "boxes": sum(1 for run in runs.values() if run["shown"]),
        },
        "transforms": {f"t{transform_id}": _transform(row) for transform_id, row in transforms.items()},
        "nodes": nodes,
        "edges": edges,
    }


def _collect(ledger: Ledger, kind: str, key: int, downstream: bool) -> tuple[list[int], list[int]]:
    """(run ids, artifact ids) on the page: a run's jobs and their files, or a file's ancestors; with
    `downstream`, what was made from them; and the workflow runs around every run (its boxes)."""
    if kind == "run":
        run_ids = [row["id"] for row in ledger.query(RUN_TREE_SQL, (key,))]
        seeds = [["run", run_id] for run_id in run_ids]
        found = [("run", run_id) for run_id in run_ids]
        for sql in (
            "SELECT id AS artifact_id FROM artifacts WHERE run_id IN ({marks})",
            "SELECT artifact_id FROM run_inputs WHERE run_id IN ({marks})",
            "SELECT artifact_id FROM run_replicated_artifacts WHERE run_id IN ({marks})",
        ):
            found += [("artifact", row["artifact_id"]) for row in _select(ledger, sql, run_ids)]
    else:
        seeds = [["artifact", key]]
        found = [(row["kind"], row["id"]) for row in ledger.query(ANCESTORS_SQL, (json.dumps(seeds),))]
    if downstream:
        found += [(row["kind"], row["id"]) for row in ledger.query(DESCENDANTS_SQL, (json.dumps(seeds),))]
    run_ids = sorted({i for k, i in found if k == "run"})
    run_ids += [row["id"] for row in ledger.query(PARENT_RUNS_SQL, (json.dumps(run_ids),)) if row["id"] not in run_ids]
    return run_ids, sorted({i for k, i in found if k == "artifact"})


def _runs(ledger: Ledger, run_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The runs' rows, each with `shown`: how many of its job runs are on the page (a box if any)."""
    runs = {row["id"]: row for row in _select(ledger, RUNS_SQL, run_ids)}
    for run in runs.values():
        run["shown"] = 0
    for run in runs.values():
        if run["parent_id"] in runs:
            runs[run["parent_id"]]["shown"] += 1
    return runs


def _place(nodes: list[dict[str, Any]], edges: list[list[str]]) -> None:
    """Give each node its x and y (and each box its width and height)."""
    boxes = {n["id"] for n in nodes if n.get("jobs_shown")}
    parents = {n["id"]: n.get("parent") for n in nodes}
    positions = layout(
        [n["id"] for n in nodes if n["id"] not in boxes],
        [(source, target) for source, target, _ in edges if source not in boxes and target not in boxes],
        parents,
    )
    geometry = box_geometry(positions, parents)
    for node in nodes:
        if node["id"] in positions:
            node["x"], node["y"] = positions[node["id"]]
        elif node["id"] in geometry:
            node["x"], node["y"], node["width"], node["height"] = geometry[node["id"]]


def _resolve(ledger: Ledger, target: str | os.PathLike) -> tuple[str, int, str]:
    """("run" | "artifact", id, subject) of a run uid (or a unique prefix of one) or a recorded path."""
    text = os.fspath(target)
    if os.sep not in text:
        found = ledger.query("SELECT id, uid FROM runs WHERE uid GLOB ? LIMIT 2", (glob_literal(text) + "*",))
        exact = ledger.query("SELECT id, uid FROM runs WHERE uid = ?", (text,))
        if exact or len(found) == 1:
            row = (exact or found)[0]
            return "run", row["id"], f"run {row['uid']}"
        if found and not os.path.lexists(text):
            raise FlowledgerError(f"several runs start with {text!r}: give more of the uid")
    try:
        path = absolute(text)
        artifact = Artifact.using(ledger).filter(path=text, is_latest=1).first()
    except FlowledgerError as problem:  # not a usable path: an empty string, a NUL byte
        raise FlowledgerError(f"{text!r} is neither a run uid nor a recorded file: {problem}") from None
    if artifact is not None:
        return "artifact", artifact.id, artifact.path
    if os.sep in text:
        raise FlowledgerError(f"{path} was never recorded in ledger {ledger.path}")
    raise FlowledgerError(f"no run with uid {text!r} and no recorded file {path} in ledger {ledger.path}")


def _chunks(ids: list) -> Iterator[list]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _select(ledger: Ledger, sql: str, ids: Iterable) -> Iterator[dict[str, Any]]:
    for chunk in _chunks(list(ids)):
        yield from ledger.query(sql.format(marks=", ".join("?" * len(chunk))), chunk)


def _edges(ledger: Ledger, runs: dict[int, dict], artifacts: dict[int, dict]) -> list[list[str]]:
    """[source, target, role]: file -> run it was read by ("input"), run -> file it made ("output") or
    wrote again, the same bytes ("replicated")."""
    edges = [[f"r{a['run_id']}", f"a{a['id']}", "output"] for a in artifacts.values() if a["run_id"] in runs]
    for table, role in (("run_inputs", "input"), ("run_replicated_artifacts", "replicated")):
        sql = f"SELECT run_id, artifact_id FROM {table} WHERE run_id IN ({{marks}}) ORDER BY run_id, artifact_id"
        for row in _select(ledger, sql, runs):
            if row["artifact_id"] in artifacts:
                run, artifact = f"r{row['run_id']}", f"a{row['artifact_id']}"
                edges.append([artifact, run, role] if role == "input" else [run, artifact, role])
    return edges


def _root(run: dict, runs: dict[int, dict]) -> dict:
    while run["parent_id"] in runs:
        run = runs[run["parent_id"]]
    return run


def manager(run: dict, runs: dict[int, dict], transform_type: str) -> str:
    """Who ran it: `snakemake`, `redun`, `nextflow` (from the reference type of the run or of its workflow
    run), `python` (a tracked script or notebook), else `flowledger` (the Python API)."""
    return manager_name([run["reference_type"], _root(run, runs)["reference_type"]], transform_type)


def _run_node(run: dict, runs: dict[int, dict], transforms: dict[int, dict]) -> dict[str, Any]:
    transform = transforms[run["transform_id"]]
    data = json.loads(run["json"] or "{}")
    node: dict[str, Any] = {
        "id": f"r{run['id']}",
        "kind": "run",
        "label": _short(run_label(transform["name"], data)),
        "uid": run["uid"],
        "name": transform["name"],
        "transform": f"t{transform['id']}",
        "type": transform["type"],
        "status": derived_state(run),
        "manager": manager(run, runs, transform["type"]),
        "started_at": run["started_at"],
        "finished_at": run["finished_at"],
        "duration": duration(run["started_at"], run["finished_at"]),
        "exit_code": run["exit_code"],
        "error": run["error"],
        "reference": run["reference"],
        "reference_type": run["reference_type"],
        "user": run["user"],
        "host": run["host"],
        "environment": run["environment"],
        "report": run["report"],
        "json": data,
    }
    if run["parent_id"] in runs:
        node["parent"] = f"r{run['parent_id']}"
    if run["children"]:
        node["jobs"], node["jobs_shown"] = run["children"], run["shown"]
    return {key: value for key, value in node.items() if value not in (None, "", {})}


def run_label(name: str, data: dict[str, Any]) -> str:
    """A run's short label: its rule, task or process, with its wildcards, tag or sample."""
    name = str(data.get("rule") or data.get("process") or name).rsplit(":", 1)[-1]
    wildcards = data.get("wildcards")
    detail = data.get("tag") or data.get("sample")
    if isinstance(wildcards, dict) and wildcards:
        detail = ", ".join(str(value) for value in wildcards.values())
    return f"{name} ({detail})" if detail else name


def _artifact_nodes(
    ledger: Ledger, artifacts: dict[int, dict], runs: dict[int, dict], check_files: bool
) -> list[dict[str, Any]]:
    read_by = _linked_runs(ledger, "run_inputs", artifacts)
    reproduced_by = _linked_runs(ledger, "run_replicated_artifacts", artifacts)
    makers_elsewhere = {a["run_id"] for a in artifacts.values() if a["run_id"] is not None and a["run_id"] not in runs}
    made_elsewhere = {row["id"]: _run_ref(row, runs) for row in _select(ledger, MADE_BY_SQL, sorted(makers_elsewhere))}
    versions = defaultdict(list)
    for row in _select(ledger, VERSIONS_SQL, sorted({a["path"] for a in artifacts.values()})):
        versions[row["path"]].append(
            {
                "version": row["version"],
                "uid": row["uid"],
                "hash": f"{row['hash_type']}:{row['hash']}" if row["hash"] else None,
                "size": row["size"],
                "created_at": row["created_at"],
                "made_by": row["run_uid"],
                "id": f"a{row['id']}" if row["id"] in artifacts else None,
                "deleted": row["state"] == "deleted",
            }
        )
    states = _file_states(ledger, artifacts) if check_files else {}
    names = defaultdict(set)  # file name -> paths: a name that is not unique on the page gets its folder
    for artifact in artifacts.values():
        names[file_label(artifact["path"], artifact["kind"])].add(artifact["path"])
    nodes = []
    for artifact in artifacts.values():
        maker = artifact["run_id"]
        node: dict[str, Any] = {
            "id": f"a{artifact['id']}",
            "kind": "artifact",
            "label": _short(file_label(artifact["path"], artifact["kind"], names), tail=True),
            "uid": artifact["uid"],
            "path": artifact["path"],
            "user_path": artifact["user_path"],
            "file_kind": artifact["kind"],
            "size": artifact["size"],
            "hash": f"{artifact['hash_type']}:{artifact['hash']}" if artifact["hash"] else None,
            "version": artifact["version"],
            "latest": bool(artifact["is_latest"]),
            "created_at": artifact["created_at"],
            "description": artifact["description"],
            "host": artifact["storage_host"],
            "mark": _mark(artifact, states.get(artifact["id"])),
            "made_by": _run_ref(runs[maker], runs) if maker in runs else made_elsewhere.get(maker),
            "read_by": read_by.get(artifact["id"]),
            "reproduced_by": reproduced_by.get(artifact["id"]),
            "versions": versions[artifact["path"]] if len(versions[artifact["path"]]) > 1 else None,
        }
        if states.get(artifact["id"]) and states[artifact["id"]][1]:
            node["check_detail"] = states[artifact["id"]][1]
        box = _box_of_maker(maker, runs)
        if box:
            node["parent"] = box
        nodes.append({key: value for key, value in node.items() if value not in (None, "", {})})
    return nodes


def _box_of_maker(maker: int | None, runs: dict[int, dict]) -> str | None:
    """A file goes in the box of the workflow run whose job made it (in its maker's box, if that is one)."""
    if maker not in runs:
        return None
    run = runs[maker]
    if run["shown"]:
        return f"r{maker}"
    return f"r{run['parent_id']}" if run["parent_id"] in runs else None


def _mark(artifact: dict, checked: tuple[str, str] | None) -> str | None:
    """deleted (gone when recorded), missing (gone now), changed (other bytes now), superseded (a newer
    version of the path is recorded), or None."""
    if artifact["state"] == "deleted":
        return "deleted"
    if not artifact["is_latest"]:
        return "superseded"
    if checked and checked[0] != FileState.UNCHANGED:
        return checked[0]
    return None


def _file_states(ledger: Ledger, artifacts: dict[int, dict]) -> dict[int, tuple[str, str]]:
    """(state, detail) now, of the latest version of each local file on the page."""
    files = [
        _File(a["id"], a["path"], a["hash"], a["kind"], a["storage_host"])
        for a in artifacts.values()
        if a["is_latest"] and a["state"] != "deleted" and "://" not in a["path"]
    ]
    return {cast(_File, checked.artifact).id: (str(checked.state), checked.detail) for checked in check(files, ledger)}


def _linked_runs(ledger: Ledger, table: str, artifacts: dict[int, dict]) -> dict[int, dict[str, Any]]:
    """Per artifact: the first `LISTED` runs linked to it through `table`, and how many there are."""
    found: dict[int, dict[str, Any]] = {}
    for row in _select(ledger, LINKED_RUNS_SQL.format(table=table), artifacts):
        entry = found.setdefault(row["artifact_id"], {"runs": [], "total": 0})
        entry["total"] += 1
        if entry["total"] <= LISTED:
            entry["runs"].append([f"r{row['id']}", row["uid"], row["name"], row["status"]])
    return found


def _run_ref(row: dict, runs: dict[int, dict]) -> list[Any]:
    """[node id, uid, name, status] of a run (its node id, or None when it is not on the page)."""
    name = row.get("name")
    return [f"r{row['id']}" if row["id"] in runs else None, row["uid"], name, row["status"]]


def _transform(row: dict) -> dict[str, Any]:
    keys = ("uid", "name", "version", "type", "description", "reference", "reference_type", "source_code")
    return {key: row[key] for key in keys if row[key] not in (None, "")}


def file_label(path: str, kind: str, names: dict[str, set[str]] | None = None) -> str:
    """A file's short label: its name (a folder's with a slash), or the last part of a URL; with its
    folder's name when `names` (name -> paths) holds another path of that name."""
    parts = path.rstrip("/").rsplit("/", 2)
    name = parts[-1] or path
    label = f"{name}/" if kind == "folder" else name
    if names and len(names.get(label, ())) > 1 and len(parts) > 1 and parts[-2]:
        label = f"{parts[-2]}/{label}"
    return label


def _short(text: str, limit: int = 26, tail: bool = False) -> str:
    """At most `limit` characters: the end cut off (or, with `tail`, the start)."""
    if len(text) <= limit:
        return text
    return "…" + text[1 - limit :] if tail else text[: limit - 1] + "…"


def duration(started: str | None, finished: str | None) -> str | None:
    """How long a run took, for people: `850 ms`, `4.2 s`, `3 min 5 s`, `2 h 10 min`."""
    if not started or not finished:
        return None
    try:
        seconds = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    except (TypeError, ValueError):
        return None
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


# ---- the HTML -------------------------------------------------------------------------------------


def render(data: dict[str, Any]) -> str:
    """One HTML file: the data as JSON, and the page's script and style inlined."""
    static = resources.files("flowledger") / "static"
    template = Template((static / "page.html").read_text(encoding="utf-8"))
    return template.substitute(
        title=html.escape(f"Lineage of {data['subject']}"),
        style=(static / "lineage.css").read_text(encoding="utf-8"),
        data=_json_for_html(data),
        script=_script_text((static / "lineage.js").read_text(encoding="utf-8")),
    )


def _json_for_html(data: Any) -> str:
    """JSON safe inside <script>: every `<` escaped (so no `</script>` or `<!--` can end or change the block),
    and strict (a NaN or an infinity that a run's json holds becomes a string: JSON.parse rejects them)."""
    try:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(data), ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False)
    return text.replace("<", "\\u003c")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _script_text(code: str) -> str:
    return re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)


def write(
    target: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    db: str | os.PathLike | None = None,
    downstream: bool = False,
    check_files: bool = True,
) -> tuple[Path, dict[str, Any]]:
    """Write the lineage page of `target` (see `build`) to `out` (default: ./lineage-<uid or file name>.html)."""
    data = build(target, db, downstream=downstream, check_files=check_files)
    if out is None:
        name = data["subject"].removeprefix("run ").rstrip("/").rsplit("/", 1)[-1]
        out = f"lineage-{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}.html"
    path = Path(out)
    try:
        path.write_text(render(data), encoding="utf-8")
    except OSError as error:
        raise FlowledgerError(f"cannot write {path}: {error.strerror}") from None
    return path, data
