"""End to end: `redun run` with the one ini line, against the same pipeline without it."""

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import flowledger as fl
import pytest
from redun_testlib import by_task, check_against_redun, comparable, redun_executions, use_ledger, write_ini

pytestmark = pytest.mark.slow
REDUN = str(Path(sys.executable).with_name("redun"))
PIPELINE = ["fl_redun_workflow.py", "main", "--input-dir", "data", "--outdir", "out"]


def redun(root, *args):
    """`redun run ...` in `root`, with this test's FLOWLEDGER_DB in its environment."""
    return subprocess.run(
        [REDUN, "run", *args], cwd=root, env=dict(os.environ), capture_output=True, text=True, timeout=300
    )


def same_result(stdout):
    """The printed result without redun's File hashes (path + size + mtime: they differ per folder)."""
    return re.sub(r"hash=[0-9a-f]+", "hash=...", stdout)


def redun_records(db):
    """(task name, task hash) pairs, the number of call arguments, and task name -> the argument counts of
    its calls, in a redun.db."""
    con = sqlite3.connect(db)
    tasks = set(con.execute("SELECT namespace || '.' || name, hash FROM task"))
    arguments = con.execute("SELECT count(*) FROM argument").fetchone()[0]
    per_call: dict = {}
    for task, count in con.execute(
        "SELECT c.task_name, count(a.call_hash) FROM call_node c LEFT JOIN argument a ON a.call_hash = c.call_hash "
        "GROUP BY c.call_hash"
    ):
        per_call.setdefault(task, set()).add(count)
    con.close()
    return tasks, arguments, per_call


PLAIN_TASK = '''from redun import task as _redun_task


def task(func=None, *, description=None, key=None, **options):
    """Plain `redun.task`: the lineage metadata dropped."""
    return _redun_task(func, **options) if func is not None else _redun_task(**options)
'''


@pytest.fixture
def twin(project, tmp_path):
    """The same project without the plugin: no ini line, and plain `redun.task` in the pipeline."""
    root = tmp_path / "plain"
    shutil.copytree(project, root)
    write_ini(root, plugin=False)
    pipeline = root / PIPELINE[0]
    text = pipeline.read_text()
    assert "from flowledger_redun import task\n" in text
    pipeline.write_text(text.replace("from flowledger_redun import task\n", PLAIN_TASK))
    return root


def test_redun_run_records_and_behaves_the_same(project, twin, monkeypatch):
    db = project / ".redun" / "redun.db"
    # Same parameters in the help: the decorator adds none. (In redun 0.44, `redun run FILE TASK --help`
    # prints `redun run`'s own help; `redun run FILE TASK help` lists the task's parameters.)
    for task, parameter in (("main", "--fail-on"), ("count_words", "--sample")):
        for help_flag in ("--help", "help"):
            recorded_help = redun(project, PIPELINE[0], task, help_flag).stdout
            assert recorded_help == redun(twin, PIPELINE[0], task, help_flag).stdout
        assert parameter in recorded_help and "--job-info" not in recorded_help
    # Fresh run, then a full cache hit: same output and cache hits with and without the plugin.
    for step in ("fresh", "cached"):
        recorded, plain = redun(project, "--tag", f"step={step}", *PIPELINE), redun(twin, *PIPELINE)
        assert recorded.returncode == plain.returncode == 0, recorded.stderr
        assert same_result(recorded.stdout) == same_result(plain.stdout)
        assert recorded.stderr.count("Cached Job") == plain.stderr.count("Cached Job")
        assert "flowledger" not in recorded.stderr
        execution_id = redun_executions(db)[-1]
        execution = fl.Run.filter(reference=execution_id, reference_type="redun_id").one()
        assert execution.status == "completed"
        assert execution.json["args"][1:] == ["run", "--tag", f"step={step}", *PIPELINE]
        assert execution.json["tags"]["step"] == step
        assert {"user", "project", "redun.version"} <= set(execution.json["tags"])
        ledger = check_against_redun(project, execution_id, db=db)
        assert {job["status"] for job in ledger.values()} == {"completed" if step == "fresh" else "cached"}
    # redun's own records: the decorated tasks hash as plain ones (so recording invalidates no cache),
    # and the decorator adds no argument to any call.
    assert redun_records(db) == redun_records(twin / ".redun" / "redun.db")
    # A failing task: same exit status; the failing job errored, the execution too.
    recorded = redun(project, *PIPELINE, "--fail-on", "sample_B")
    plain = redun(twin, *PIPELINE, "--fail-on", "sample_B")
    assert recorded.returncode == plain.returncode != 0
    execution_id = redun_executions(db)[-1]
    assert fl.Run.filter(reference=execution_id, reference_type="redun_id").one().status == "errored"
    ledger = check_against_redun(project, execution_id, db=db)
    assert [j["status"] for j in by_task(ledger)["fl_test.normalize"]].count("errored") == 1
    # The same after the failure, but for the number of calls: which of the failing job's siblings finish
    # before redun stops is a race (fail-fast), with or without the plugin.
    (tasks, _, per_call), (twin_tasks, _, twin_per_call) = (
        redun_records(db),
        redun_records(twin / ".redun" / "redun.db"),
    )
    assert (tasks, per_call) == (twin_tasks, twin_per_call)
    # The same three executions imported, with the defaults, into another ledger.
    other = project.parent / "imported.db"
    flowledger = str(Path(sys.executable).with_name("flowledger"))
    imported = subprocess.run(
        [flowledger, "--db", str(other), "redun", "import"], cwd=project, capture_output=True, text=True, timeout=300
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.count("imported as run") == 3
    use_ledger(monkeypatch, other)
    assert comparable(check_against_redun(project, execution_id, db=db)) == comparable(ledger)


def test_process_executor(project):
    result = redun(project, *PIPELINE, "--executor", "process")
    assert result.returncode == 0, result.stderr
    db = project / ".redun" / "redun.db"
    ledger = check_against_redun(project, redun_executions(db)[-1], db=db)
    counts = by_task(ledger)["fl_test.count_words"]
    assert sorted(o for job in counts for o in job["outputs"]) == [f"out/sample_{s}.counts.tsv" for s in "ABC"]
    assert {job["status"] for job in ledger.values()} == {"completed"}
