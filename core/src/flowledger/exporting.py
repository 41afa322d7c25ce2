"""What an export holds, read once from the ledger: the one place OpenLineage, PROV and RO-Crate read from.

`gather(target)` takes a run (its job runs and everything they read and wrote) or a file (its lineage
back to the raw inputs, across workflow managers) and returns an `Export`: plain rows of runs,
transforms and artifacts, linked by ids. Plain rows, read with a handful of queries in chunks, because an
export of a 10,000-job run must not build 10,000 models that each query their transform. Each run also
knows its workflow manager (from its `reference_type`, see `MANAGERS`), which every format names.

`export(target, format, out)` is the Python API of `flowledger export`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import import_module
from typing import IO, Any

from .errors import FlowledgerError
from .lineage import ANCESTORS_SQL, PARENT_RUNS_SQL, RUN_TREE_SQL, seeds
from .paths import absolute
from .store import Ledger, existing_ledger

FORMATS = {  # format -> (module, function(export, out, **options))
    "openlineage": ("flowledger.default_plugins.openlineage", "write"),
    "prov-json": ("flowledger.default_plugins.prov", "write_json"),
    "prov-n": ("flowledger.default_plugins.prov", "write_provn"),
    "prov-o": ("flowledger.default_plugins.prov", "write_turtle"),
    "rocrate": ("flowledger.default_plugins.rocrate", "write"),
}
CHUNK = 900  # ids per `IN (...)`: under SQLite's old limit of 999 parameters


@dataclass(frozen=True)
class Manager:
    """Who ran a run: a workflow manager, or Python itself for `fl.track()` scripts and notebooks."""

    name: str  # lower case: "snakemake"; OpenLineage job namespaces are `<name>://<host>`
    label: str  # "Snakemake"
    url: str  # its home page: the RO-Crate instrument and the PROV agent's location
    version: str = "unknown"  # from what the plugin recorded in the workflow run's json; "unknown" if nothing


MANAGERS = {
    "snakemake": Manager("snakemake", "Snakemake", "https://snakemake.github.io"),
    "redun": Manager("redun", "redun", "https://github.com/insitro/redun"),
    "nextflow": Manager("nextflow", "Nextflow", "https://www.nextflow.io"),
    "python": Manager("python", "Python", "https://www.python.org"),  # fl.track() scripts and notebooks
    "flowledger": Manager("flowledger", "flowledger", "https://pypi.org/project/flowledger/"),  # the Python API
}
REFERENCE_TYPES = {  # the plugins' reference types (workflow run, job run) -> manager
    "snakemake_id": "snakemake",
    "snakemake_job": "snakemake",
    "redun_id": "redun",
    "redun_job_id": "redun",
    "nextflow_id": "nextflow",
    "nextflow_task_hash": "nextflow",
}


def manager_name(reference_types: Iterable[str | None], transform_type: str | None) -> str:
    """Who ran a run (a key of MANAGERS): the manager of the first reference type known here (the run's own,
    then its workflow run's), `python` for a tracked script or notebook, else `flowledger` (the Python API)."""
    for reference_type in reference_types:
        name = REFERENCE_TYPES.get(reference_type or "")
        if name is not None:
            return name
    return "python" if transform_type in ("script", "notebook") else "flowledger"


@dataclass(slots=True)
class Transform:
    id: int
    uid: str
    name: str
    version: str | None
    type: str
    description: str | None
    reference: str | None
    reference_type: str | None
    source_code: str | None
    hash: str | None


@dataclass(slots=True)
class Artifact:
    id: int
    uid: str
    path: str
    kind: str
    storage_host: str | None
    suffix: str | None
    size: int | None
    hash: str | None
    hash_type: str | None
    version: int
    run_id: int | None  # the run that made it (None: a raw input)

    @property
    def content_id(self) -> str:
        """`sha256:<hex>`: the content hash with its algorithm, as OpenLineage versions and PROV ids use it."""
        return f"{self.hash_type}:{self.hash}"


@dataclass(slots=True)
class Run:
    id: int
    uid: str
    transform: Transform
    status: str
    started_at: str | None
    finished_at: str | None
    reference: str | None
    reference_type: str | None
    exit_code: int | None
    error: str | None
    json: dict[str, Any]
    parent_id: int | None  # initiated_by_run
    user: str | None
    environment: str | None  # path of the environment artifact (a requirements file, a container)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    replicated: list[int] = field(default_factory=list)  # made before, by another run; this one reproduced them


@dataclass
class Export:
    """Runs (parents before their jobs), their transforms and artifacts, and what the export is of."""

    ledger: str
    subject: str  # "run <uid>" or the artifact's path
    runs: dict[int, Run]
    artifacts: dict[int, Artifact]
    target: Run | Artifact
    _managers: dict[tuple[str | None, int | None], Manager] = field(default_factory=dict, repr=False)
    _hosts: dict[int, str] = field(default_factory=dict, repr=False)

    def parent(self, run: Run) -> Run | None:
        return self.runs.get(run.parent_id) if run.parent_id is not None else None

    def root(self, run: Run) -> Run:
        """The outermost run: the workflow run of a job (its own root if it has no parent)."""
        while run.parent_id in self.runs:
            run = self.runs[run.parent_id]
        return run

    def children(self, run: Run) -> list[Run]:
        return [r for r in self.runs.values() if r.parent_id == run.id]

    def manager(self, run: Run) -> Manager:
        key = (run.reference_type, run.parent_id)
        if key not in self._managers:  # the same for all the job runs of a workflow run
            root = self.root(run)
            name = manager_name([run.reference_type, root.reference_type], root.transform.type)
            self._managers[key] = _with_version(MANAGERS[name], root)
        return self._managers[key]

    def host(self, run: Run) -> str:
        """Where the run ran: recorded by its plugin, else where its files are, else the exporting host."""
        if run.id not in self._hosts:
            self._hosts[run.id] = self._host(run)
        return self._hosts[run.id]

    def _host(self, run: Run) -> str:
        root = self.root(run)
        for candidate in (run, root):
            if candidate.json.get("host"):
                return str(candidate.json["host"])
        for artifact_id in [*run.outputs, *run.inputs, *root.outputs]:
            artifact = self.artifacts.get(artifact_id)
            if artifact is not None and artifact.storage_host:
                return artifact.storage_host
        from .paths import host

        return host()

    def links(self) -> Iterator[tuple[Run, str, Artifact]]:
        """Every edge: (run, "input" | "output" | "replicated", artifact)."""
        for run in self.runs.values():
            for role, ids in (("input", run.inputs), ("output", run.outputs), ("replicated", run.replicated)):
                for artifact_id in ids:
                    yield run, role, self.artifacts[artifact_id]


def _with_version(manager: Manager, root: Run) -> Manager:
    data = root.json
    version = {
        "snakemake": data.get("snakemake_version"),
        "nextflow": data.get("nextflow_version"),
        "redun": (data.get("tags") or {}).get("redun.version"),  # only `redun run` tags it
        "python": _python_version(root.environment),
    }.get(manager.name)
    return Manager(manager.name, manager.label, manager.url, str(version)) if version else manager


def _python_version(environment: str | None) -> str | None:
    """`fl.track()` saves `pip freeze` with a first line `# python 3.11.7`."""
    try:
        with open(environment or "", encoding="utf-8") as handle:
            first = handle.readline()
    except OSError:
        return None
    return first.split()[-1] if first.startswith("# python ") else None


def gather(target: str | os.PathLike | Any, db: str | os.PathLike | None = None) -> Export:
    """The export of a run (uid, unique uid prefix or `Run`) or of a recorded file (path or `Artifact`)."""
    ledger = target._store if hasattr(target, "_store") else existing_ledger(db)
    kind, key, subject = _resolve(ledger, target)
    if kind == "run":
        rows = ledger.query(RUN_TREE_SQL, (key,))
        run_ids, artifact_ids = [r["id"] for r in rows], None
    else:
        rows = ledger.query(ANCESTORS_SQL, (seeds(("artifact", key)),))
        run_ids = [r["id"] for r in rows if r["kind"] == "run"]
        artifact_ids = {r["id"] for r in rows if r["kind"] == "artifact"}
    run_ids += [r["id"] for r in ledger.query(PARENT_RUNS_SQL, (json.dumps(run_ids),)) if r["id"] not in set(run_ids)]
    runs = _runs(ledger, run_ids)
    artifacts = _link(ledger, runs, artifact_ids)
    ordered = dict(sorted(runs.items(), key=lambda item: (_depth(runs, item[1]), item[1].started_at or "", item[0])))
    chosen = ordered[key] if kind == "run" else artifacts[key]
    return Export(str(ledger.path), subject, ordered, artifacts, chosen)


def gather_run(record: Any) -> Export:
    """One run alone (no job runs), with its parents: what the live OpenLineage events of `record` need."""
    ledger = record._store
    run_ids = [record.id, *(r["id"] for r in ledger.query(PARENT_RUNS_SQL, (json.dumps([record.id]),)))]
    runs = _runs(ledger, run_ids)
    for parent_id in run_ids[1:]:  # parents are context here: none of their files
        runs[parent_id].inputs, runs[parent_id].outputs = [], []
    artifacts = _link(ledger, {record.id: runs[record.id]}, None)
    return Export(str(ledger.path), f"run {record.uid}", runs, artifacts, runs[record.id])


def export(
    target: Any,
    format: str = "openlineage",
    out: str | os.PathLike | IO[str] | None = None,
    *,
    db: str | os.PathLike | None = None,
    **options: Any,
) -> str | None:
    """Export a run or a file's lineage (see `gather`) as `format` (one of `FORMATS`) to `out`.

    `out`: a path or a text stream; None returns the text (rocrate: a folder, or a .zip, is required).
    Options: `with_files=True` (rocrate: copy the data into the crate), `progress=True` (a progress bar).
    """
    if format not in FORMATS:
        raise FlowledgerError(f"unknown export format {format!r}: one of {', '.join(FORMATS)}")
    module, function = FORMATS[format]
    return getattr(import_module(module), function)(gather(target, db), out, **options)


RUNS_SQL = (
    "SELECT r.*, u.handle AS user, e.path AS environment_path FROM runs r LEFT JOIN users u ON u.id = r.created_by_id "
    "LEFT JOIN artifacts e ON e.id = r.environment_id WHERE r.id IN ({marks})"
)
ARTIFACT_COLUMNS = "id, uid, path, kind, storage_host, suffix, size, hash, hash_type, version, run_id"
TRANSFORM_COLUMNS = "id, uid, name, version, type, description, reference, reference_type, source_code, hash"


def _resolve(ledger: Ledger, target) -> tuple[str, int, str]:
    """("run" | "artifact", id, subject) of a record, a run uid (or unique prefix), or a recorded path."""
    if hasattr(target, "_table"):
        kind = "run" if target._table == "runs" else "artifact"
        return kind, target.id, f"run {target.uid}" if kind == "run" else target.path
    text = os.fspath(target)
    if os.sep not in text:
        found = ledger.query("SELECT id, uid FROM runs WHERE uid GLOB ? LIMIT 2", (f"{text}*",))
        exact = [row for row in found if row["uid"] == text] or ledger.query(
            "SELECT id, uid FROM runs WHERE uid = ?", (text,)
        )
        if exact or len(found) == 1:
            row = (exact or found)[0]
            return "run", row["id"], f"run {row['uid']}"
        if found and not os.path.exists(text):
            raise FlowledgerError(f"several runs start with {text!r}: give more of the uid")
    path = absolute(text)
    from .models import Artifact as ArtifactRecord

    found_here = ArtifactRecord.using(ledger).filter(path=path).first()  # (the file at this path on this host)
    rows = [{"id": found_here.id}] if found_here else []
    if rows:
        return "artifact", rows[0]["id"], path
    if os.sep in text:
        raise FlowledgerError(f"{path} was never recorded in ledger {ledger.path}")
    raise FlowledgerError(f"no run with uid {text!r} and no recorded file {path} in ledger {ledger.path}")


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _select(ledger: Ledger, sql: str, ids: list[int]) -> Iterator[dict[str, Any]]:
    for chunk in _chunks(ids):
        yield from ledger.query(sql.format(marks=", ".join("?" * len(chunk))), chunk)


def _runs(ledger: Ledger, run_ids: list[int]) -> dict[int, Run]:
    rows = list(_select(ledger, RUNS_SQL, run_ids))
    transform_ids = sorted({row["transform_id"] for row in rows})
    sql = f"SELECT {TRANSFORM_COLUMNS} FROM transforms WHERE id IN ({{marks}})"
    transforms = {row["id"]: Transform(**row) for row in _select(ledger, sql, transform_ids)}
    return {
        row["id"]: Run(
            row["id"],
            row["uid"],
            transforms[row["transform_id"]],
            row["status"],
            row["started_at"],
            row["finished_at"],
            row["reference"],
            row["reference_type"],
            row["exit_code"],
            row["error"],
            json.loads(row["json"] or "{}"),
            row["initiated_by_run_id"],
            row["user"],
            row["environment_path"],
        )
        for row in rows
    }


def _link(ledger: Ledger, runs: dict[int, Run], only: set[int] | None) -> dict[int, Artifact]:
    """Fill each run's inputs, outputs and replicated outputs; the artifacts (limited to `only`, if given)."""
    ids = list(runs)
    links: list[tuple[int, str, int]] = []
    for table, role in (("run_inputs", "inputs"), ("run_replicated_artifacts", "replicated")):
        sql = f"SELECT run_id, artifact_id FROM {table} WHERE run_id IN ({{marks}})"
        links += [(row["run_id"], role, row["artifact_id"]) for row in _select(ledger, sql, ids)]
    made = f"SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE run_id IN ({{marks}})"
    artifacts = {row["id"]: Artifact(**row) for row in _select(ledger, made, ids)}
    links += [(a.run_id, "outputs", a.id) for a in artifacts.values() if a.run_id is not None]
    wanted = sorted({artifact_id for _, _, artifact_id in links} - artifacts.keys())
    for row in _select(ledger, f"SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE id IN ({{marks}})", wanted):
        artifacts[row["id"]] = Artifact(**row)
    if only is not None:
        artifacts = {key: value for key, value in artifacts.items() if key in only}
    for run_id, role, artifact_id in sorted(links):
        if artifact_id in artifacts:
            getattr(runs[run_id], role).append(artifact_id)
    return artifacts


def _depth(runs: dict[int, Run], run: Run) -> int:
    depth = 0
    while run.parent_id in runs:
        run, depth = runs[run.parent_id], depth + 1
    return depth


@contextlib.contextmanager
def output(out: str | os.PathLike | IO[str] | None) -> Iterator[tuple[IO[str], Callable[[], str | None]]]:
    """(a text stream to write to, a function giving the text when `out` is None): `-` is stdout."""
    if out is None:
        buffer = io.StringIO()
        yield buffer, buffer.getvalue
    elif out == "-":
        yield sys.stdout, lambda: None
    elif hasattr(out, "write"):
        yield out, lambda: None  # type: ignore[misc]
    else:
        with open(out, "w", encoding="utf-8") as handle:
            yield handle, lambda: None


@contextlib.contextmanager
def progress_bar(total: int, label: str, enabled: bool) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr over `total` steps (a no-op unless `enabled`); yields `advance()`."""
    if not enabled:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"{label}: {total} runs", total=total)
        yield lambda: bar.advance(task)
