"""redun recording into a ledger on a PostgreSQL server (issue 11): the recording `Scheduler` given the URL as
its `ledger`, `redun run` with the URL in FLOWLEDGER_DB, and `flowledger --db URL redun import`; checked
against redun's own database, as on SQLite, and read back through the public API."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flowledger_redun import Scheduler
from postgres_server import read_ledger
from redun_testlib import by_task, check_against_redun, comparable, redun_config, redun_executions

BIN = Path(sys.executable).parent
PIPELINE = ["fl_redun_workflow.py", "main", "--input-dir", "data", "--outdir", "out"]
SAMPLES = {f"data/sample_{s}.txt" for s in "ABC"}


def check_report_lineage(fl, root: Path, execution) -> None:
    """out/report.tsv: made by merge_report, from normalize and count_words, back to the three samples; jobs
    of later executions that wrote the same bytes again (or found them in redun's cache) replicated them."""
    report = fl.Artifact.filter(path=str(root / "out/report.tsv")).one()
    assert report.run.transform.name == "fl_test.merge_report" and report.run.initiated_by_run == execution
    graph = fl.lineage.ancestors(report)
    makers = {a.run_id: graph.runs[a.run_id] for a in graph.artifacts.values() if a.run_id is not None}
    assert sorted(r.transform.name for r in makers.values()) == sorted(
        ["fl_test.merge_report"] + ["fl_test.normalize"] * 3 + ["fl_test.count_words"] * 3
    )
    assert {r.initiated_by_run_id for r in makers.values()} == {execution.id}
    assert {os.path.relpath(a.path, root) for a in graph.artifacts.values() if a.run is None} == SAMPLES
    replicating = [graph.runs[run_id] for run_id, _ in graph.replications]
    assert all(r.initiated_by_run_id != execution.id for r in replicating)


def test_scheduler_records_into_postgresql(project, wf, server_ledger, ledger_path, monkeypatch):
    for _ in ("fresh", "cached"):
        scheduler = Scheduler(config=redun_config(project), ledger=server_ledger)  # the plugin's own setting
        scheduler.load()
        result = scheduler.run(wf.main("data", "out", ""))
        assert [f.path for f in result] == ["out/report.tsv", "out/summary.txt"]
    assert not ledger_path.exists()  # the Scheduler's ledger, not FLOWLEDGER_DB's
    fresh, cached = redun_executions(project / "redun.db")

    fl = read_ledger(monkeypatch, server_ledger)
    execution = fl.Run.filter(reference=fresh, reference_type="redun_id").one()
    assert execution.status == "completed" and execution.transform.name == "fl_test.main"
    ledger = check_against_redun(project, fresh)  # each job's status, parent, inputs and outputs
    assert {job["status"] for job in ledger.values()} == {"completed"}
    assert len(ledger) == len(fl.Run.filter(initiated_by_run=execution).all()) == 11
    check_report_lineage(fl, project, execution)

    # the cache hit: every job cached, the report the same artifact, replicated by the new merge_report
    rerun = check_against_redun(project, cached)
    assert {job["status"] for job in rerun.values()} == {"cached"}
    assert by_task(rerun)["fl_test.merge_report"][0]["replicated"] == {"out/report.tsv"}
    assert fl.Artifact.filter(path=str(project / "out/report.tsv")).one().run.initiated_by_run == execution


@pytest.mark.slow
def test_redun_run_and_import_on_postgresql(project, server_ledger, postgres_ledgers, monkeypatch):
    """`redun run` with the ini line records live into the server's ledger; `flowledger --db URL redun import`
    of the same executions into an emptied one records the same jobs."""
    env = {**os.environ, "FLOWLEDGER_DB": server_ledger}
    for args in (PIPELINE, [*PIPELINE, "--fail-on", "sample_B"]):
        done = subprocess.run(
            [str(BIN / "redun"), "run", *args], cwd=project, env=env, capture_output=True, text=True, timeout=300
        )
        assert "WARNING" not in done.stderr, done.stderr
    assert done.returncode != 0  # the failing run fails as it would without the plugin
    db = project / ".redun" / "redun.db"
    ok, failed = redun_executions(db)

    fl = read_ledger(monkeypatch, server_ledger)
    execution = fl.Run.filter(reference=ok, reference_type="redun_id").one()
    assert execution.status == "completed" and execution.json["args"][1:] == ["run", *PIPELINE]
    live = {ok: check_against_redun(project, ok, db=db), failed: check_against_redun(project, failed, db=db)}
    assert {job["status"] for job in live[ok].values()} == {"completed"}
    check_report_lineage(fl, project, execution)
    errored = fl.Run.filter(reference=failed, reference_type="redun_id").one()
    assert errored.status == "errored" and "simulated failure" in errored.error
    assert [j["status"] for j in by_task(live[failed])["fl_test.normalize"]].count("errored") == 1

    from flowledger.store import forget_ledgers

    forget_ledgers()  # no open transaction of ours may hold up the emptying
    assert postgres_ledgers.fresh() == server_ledger
    imported = subprocess.run(
        [str(BIN / "flowledger"), "--db", server_ledger, "redun", "import"],
        cwd=project,
        env={**os.environ, "FLOWLEDGER_DB": str(project / "decoy.db")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.count("imported as run") == 2
    assert not (project / "decoy.db").exists()
    fl = read_ledger(monkeypatch, server_ledger)
    for execution_id, jobs in live.items():
        assert comparable(check_against_redun(project, execution_id, db=db)) == comparable(jobs)
    check_report_lineage(fl, project, fl.Run.filter(reference=ok, reference_type="redun_id").one())
