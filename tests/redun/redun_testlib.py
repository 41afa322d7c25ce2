"""Helpers for the redun plugin's tests: the ini file, and two readers.

`redun_jobs` / `redun_produced` read redun's own database (plain SQL, independent of the importer)
to say which job produced which file; `ledger_jobs` reads the flowledger ledger through the public
models. (A uniquely named module, not `conftest`: test folders share one import namespace.)
"""

import os
import sqlite3
from pathlib import Path

DATA = Path(__file__).parent / "data"
INI_LINE = "[scheduler]\nsetup_scheduler = flowledger_redun::setup_scheduler\n"


def write_ini(root: Path, plugin: bool) -> None:
    """.redun/redun.ini with redun's database in .redun/, and the ini line if `plugin`."""
    (root / ".redun").mkdir(parents=True, exist_ok=True)
    text = "[backend]\ndb_uri = sqlite:///redun.db\n"
    (root / ".redun" / "redun.ini").write_text(text + ("\n" + INI_LINE if plugin else ""))


def redun_config(root: Path):
    from redun.config import Config

    return Config({"backend": {"db_uri": f"sqlite:///{root / 'redun.db'}"}})


def rel(path: str, root: Path) -> str:
    return os.path.relpath(path, root)


# ---- redun's own records (the oracle) ---------------------------------------------------------
FILES_UNDER = """
WITH RECURSIVE v(h) AS (
  SELECT ? UNION SELECT s.value_hash FROM subvalue s JOIN v ON s.parent_value_hash = v.h)
SELECT f.path FROM file f JOIN v ON f.value_hash = v.h
"""


def redun_jobs(db: Path, execution_id: str) -> dict:
    """job id -> {task, status, parent, result_files, arg_files} from redun.db."""
    con = sqlite3.connect(db)
    jobs = {}
    rows = con.execute(
        "SELECT j.id, t.namespace || '.' || t.name, j.cached, j.end_time, j.parent_id, j.call_hash, "
        "v.type, c.value_hash FROM job j JOIN task t ON t.hash = j.task_hash "
        "LEFT JOIN call_node c ON c.call_hash = j.call_hash LEFT JOIN value v ON v.value_hash = c.value_hash "
        "WHERE j.execution_id = ?",
        (execution_id,),
    ).fetchall()
    for job_id, task, cached, end, parent, call_hash, vtype, value_hash in rows:
        if vtype == "redun.ErrorValue":
            status = "FAILED"
        elif end is None:
            status = "RUNNING"
        else:
            status = "CACHED" if cached else "DONE"
        result = set()
        args = set()
        if value_hash and status != "FAILED":
            result = {p for (p,) in con.execute(FILES_UNDER, (value_hash,))}
        if call_hash:
            for (arg_value,) in con.execute("SELECT value_hash FROM argument WHERE call_hash = ?", (call_hash,)):
                args |= {p for (p,) in con.execute(FILES_UNDER, (arg_value,))}
        jobs[job_id] = {"task": task, "status": status, "parent": parent, "result": result, "args": args}
    con.close()
    return jobs


def redun_produced(jobs: dict) -> dict:
    """job id -> files it made: in its result, but not in a descendant's result nor in its arguments."""
    children: dict = {}
    for job_id, job in jobs.items():
        children.setdefault(job["parent"], []).append(job_id)

    def descendants(job_id):
        for child in children.get(job_id, []):
            yield child
            yield from descendants(child)

    produced = {}
    for job_id, job in jobs.items():
        below = set().union(*(jobs[d]["result"] for d in descendants(job_id)))
        produced[job_id] = job["result"] - below - job["args"]
    return produced


def redun_executions(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    ids = [
        i for (i,) in con.execute("SELECT e.id FROM execution e JOIN job j ON j.id = e.job_id ORDER BY j.start_time")
    ]
    con.close()
    return ids


# ---- the ledger ----------------------------------------------------------------------------------
def ledger_jobs(execution_id: str, root: Path) -> dict:
    """job id -> {task, version, status, parent, inputs, outputs, replicated, error} for one execution.

    parent: (the parent job id in the Run's json, the job id of the Run its parent_run_uid names).
    """
    import flowledger as fl

    run = fl.Run.filter(reference=execution_id, reference_type="redun_id").one()
    jobs = {}
    runs = fl.Run.filter(initiated_by_run=run).all()
    job_of_uid = {job.uid: job.reference for job in runs}
    for job in runs:
        assert job.reference_type == "redun_job_id"
        jobs[job.reference] = {
            "task": job.transform.name,
            "version": job.transform.version,
            "status": job.status,
            "parent": (job.json.get("parent_job_id"), job_of_uid.get(job.json.get("parent_run_uid"))),
            "inputs": {rel(a.path, root) for a in job.inputs.all()},
            "outputs": {rel(a.path, root) for a in job.outputs.all()},
            "replicated": {rel(a.path, root) for a in job.replicated_output_artifacts.all()},
            "error": job.error,
        }
    return jobs


def use_ledger(monkeypatch, path: Path) -> None:
    """Point the models (and subprocesses) at another ledger."""
    from flowledger.store import forget_ledgers

    monkeypatch.setenv("FLOWLEDGER_DB", str(path))
    forget_ledgers()


STATUS = {"DONE": "completed", "CACHED": "cached", "FAILED": "errored", "RUNNING": "aborted"}


def check_against_redun(root, execution_id, db=None):
    """Every job's status, inputs and outputs in the ledger are what redun.db says."""
    redun = redun_jobs(db or root / "redun.db", execution_id)
    produced = redun_produced(redun)
    ledger = ledger_jobs(execution_id, root)
    assert set(ledger) == set(redun)
    for job_id, job in ledger.items():
        assert job["task"] == redun[job_id]["task"]
        assert job["status"] == STATUS[redun[job_id]["status"]], job
        assert job["parent"] == (redun[job_id]["parent"],) * 2, job  # redun's job nesting, kept
        if job["status"] == "aborted":
            continue  # redun keeps no CallNode for it
        # A cached job's outputs link to the artifacts of the run that made them (replicated), or
        # are its own when that run is not in the ledger (it ran without the plugin).
        made = job["replicated"] | job["outputs"]
        assert made == produced[job_id], (job["task"], made, produced[job_id])
        assert job["inputs"] == redun[job_id]["args"], job["task"]
    return ledger


def by_task(ledger):
    """task name -> its jobs."""
    out: dict = {}
    for job in ledger.values():
        out.setdefault(job["task"], []).append(job)
    return out


def comparable(ledger):
    """A ledger's jobs without the inputs of aborted jobs (redun.db keeps no arguments for them)."""
    return {job_id: {**job, "inputs": None} if job["status"] == "aborted" else job for job_id, job in ledger.items()}
