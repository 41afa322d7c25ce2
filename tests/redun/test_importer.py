"""`flowledger redun import` agrees with live recording on the same executions."""

import sqlite3

import flowledger as fl
import pytest
import redun
from click.testing import CliRunner
from flowledger_redun import Scheduler
from flowledger_redun.importer import import_executions
from redun_testlib import comparable, ledger_jobs, redun_config, redun_executions, use_ledger


def run(wf, root, fail_on="", scheduler_class=Scheduler, expr=None):
    scheduler = scheduler_class(config=redun_config(root))
    scheduler.load()
    try:
        scheduler.run(expr if expr is not None else wf.main("data", "out", fail_on))
    except (ValueError, RuntimeError):
        pass
    return redun_executions(root / "redun.db")[-1]


def summary(execution_id):
    run_ = fl.Run.filter(reference=execution_id, reference_type="redun_id").one()
    transform = run_.transform
    return (
        run_.status,
        run_.error,
        transform.name,
        transform.type,
        transform.version,
        run_.json["args"],
        run_.json["tags"],
    )


def test_import_agrees_with_live_recording(project, wf, monkeypatch, tmp_path):
    live_db, imported_db = tmp_path / "live.db", tmp_path / "imported.db"
    db_uri = f"sqlite:///{project / 'redun.db'}"
    executions = []
    use_ledger(monkeypatch, live_db)
    for step in ("fresh", "cached", "changed", "failed", "stopped"):
        if step == "changed":
            (project / "data/sample_C.txt").write_text("other words\n")
        # "stopped": a job fails while another still runs (left RUNNING in redun.db: aborted).
        expr = wf.race("data", "out") if step == "stopped" else None
        execution_id = run(wf, project, fail_on="sample_A" if step == "failed" else "", expr=expr)
        executions.append(execution_id)
        # Import right away, so both ledgers hash the same file contents.
        [done] = import_executions(db_uri, execution=execution_id[:8], base_dir=str(project), ledger=str(imported_db))
        assert done.run_uid is not None
    for execution_id in executions:
        use_ledger(monkeypatch, live_db)
        live, live_run = ledger_jobs(execution_id, project), summary(execution_id)
        use_ledger(monkeypatch, imported_db)
        imported, imported_run = ledger_jobs(execution_id, project), summary(execution_id)
        assert imported_run == live_run
        assert comparable(imported) == comparable(live)
    statuses = {job["status"] for job in ledger_jobs(executions[2], project).values()}
    assert statuses == {"completed", "cached"}
    statuses = {job["status"] for job in ledger_jobs(executions[4], project).values()}
    assert statuses == {"errored", "aborted"}


def test_cli_imports_each_execution_once(project, wf, monkeypatch):
    from flowledger.cli import cli

    run(wf, project, scheduler_class=redun.Scheduler)
    run(wf, project, scheduler_class=redun.Scheduler)
    assert fl.Run.filter(reference_type="redun_id").count() == 0
    runner = CliRunner()
    db_uri = f"sqlite:///{project / 'redun.db'}"
    first_id = redun_executions(project / "redun.db")[0]
    only = runner.invoke(cli, ["redun", "import", "--db-uri", db_uri, "--execution", first_id[:8]])
    assert only.exit_code == 0 and only.output.count("imported as run") == 1, only.output
    assert fl.Run.filter(reference_type="redun_id").one().reference == first_id
    result = runner.invoke(cli, ["redun", "import", "--db-uri", db_uri])
    assert result.exit_code == 0, result.output
    assert result.output.count("imported as run") == 1 and result.output.count("already in the ledger") == 1
    runs = fl.Run.filter(reference_type="redun_id").all()
    assert len(runs) == 2
    first, second = sorted(runs, key=lambda r: r.started_at)
    assert {j.status for j in first.children.all()} == {"completed"}
    assert {j.status for j in second.children.all()} == {"cached"}
    report = fl.Artifact.filter(path=str(project / "out/report.tsv")).one()
    assert report.run.transform.name == "fl_test.merge_report"
    again = runner.invoke(cli, ["redun", "import", "--db-uri", db_uri])
    assert again.exit_code == 0 and again.output.count("already in the ledger") == 2


def test_cli_takes_the_ledger_before_or_after_the_sub_command(project, wf, monkeypatch, tmp_path):
    from flowledger.cli import cli

    run(wf, project, scheduler_class=redun.Scheduler)
    db_uri = f"sqlite:///{project / 'redun.db'}"
    before, after = tmp_path / "before.db", tmp_path / "after.db"
    for args in (
        ["--db", str(before), "redun", "import", "--db-uri", db_uri],
        ["redun", "import", "--db-uri", db_uri, "--db", str(after)],
    ):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and result.output.count("imported as run") == 1, result.output
    assert fl.Run.filter(reference_type="redun_id").count() == 0  # not in the ledger FLOWLEDGER_DB names
    [execution_id] = redun_executions(project / "redun.db")
    for ledger in (before, after):
        use_ledger(monkeypatch, ledger)
        assert fl.Run.filter(reference=execution_id, reference_type="redun_id").one().status == "completed"


def test_cli_errors_are_clear(project):
    from flowledger.cli import cli

    result = CliRunner().invoke(cli, ["redun", "import", "--db-uri", "sqlite:///nowhere/redun.db"])
    assert result.exit_code != 0 and "no redun database" in result.output


@pytest.mark.parametrize("kind", ["other_sqlite", "garbage"])
def test_cli_on_a_file_that_is_no_redun_database(project, tmp_path, kind):
    """One clear line naming the file, exit 1, and the file left as it was (issue 10.10)."""
    from flowledger.cli import cli

    folder = tmp_path / "elsewhere"
    folder.mkdir()
    path = folder / "redun.db"
    if kind == "other_sqlite":
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        con.execute("INSERT INTO notes (text) VALUES ('not redun')")
        con.commit()
        con.close()
    else:
        path.write_bytes(b"\x00\x01 this is no database at all \xff" * 100)
    before = path.read_bytes()
    result = CliRunner().invoke(cli, ["redun", "import", "--db-uri", f"sqlite:///{path}"])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "not a redun database" in lines[0], result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert path.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["redun.db"]
    assert fl.Run.filter(reference_type="redun_id").count() == 0
