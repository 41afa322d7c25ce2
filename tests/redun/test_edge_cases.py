"""Edge cases from the issues, on real redun, live and imported, checked against redun's own database:
the same call from two parents (9.7), a staged script output (9.7), a file deleted later in the same
execution (9.1, 9.7), a file written and read through a symlinked folder (9.2)."""

import importlib
import os
import sys

import flowledger as fl
import pytest
from flowledger_redun import Scheduler
from flowledger_redun.importer import import_executions
from redun import File
from redun_testlib import (
    DATA,
    STATUS,
    by_task,
    check_against_redun,
    comparable,
    ledger_jobs,
    redun_config,
    redun_executions,
    redun_jobs,
    redun_produced,
    use_ledger,
)


@pytest.fixture(scope="session")
def cases():
    """The edge-case pipeline, imported once (redun's task registry is global)."""
    sys.path.insert(0, str(DATA))
    try:
        return importlib.import_module("fl_redun_cases")
    finally:
        sys.path.remove(str(DATA))


def run(root, expr):
    scheduler = Scheduler(config=redun_config(root))
    scheduler.load()
    result = scheduler.run(expr)
    return result, redun_executions(root / "redun.db")[-1]


def imported(root, execution_id, ledger):
    [done] = import_executions(
        f"sqlite:///{root / 'redun.db'}", execution=execution_id, base_dir=str(root), ledger=str(ledger)
    )
    assert done.run_uid is not None


def live_and_imported(root, execution_id, monkeypatch, live_db, imported_db):
    """The execution's jobs in the live ledger and in the imported one (which must agree)."""
    use_ledger(monkeypatch, live_db)
    live = ledger_jobs(execution_id, root)
    use_ledger(monkeypatch, imported_db)
    other = ledger_jobs(execution_id, root)
    assert comparable(other) == comparable(live)
    use_ledger(monkeypatch, live_db)
    return live


def test_same_call_from_two_parents_gives_the_file_to_both_runs(project, cases, monkeypatch, tmp_path):
    live_db, imported_db = tmp_path / "live.db", tmp_path / "imported.db"
    use_ledger(monkeypatch, live_db)
    for attempt in ("fresh", "cached"):
        _, execution_id = run(project, cases.twins("out/shared.txt"))
        imported(project, execution_id, imported_db)
        for ledger in (live_db, imported_db):
            use_ledger(monkeypatch, ledger)
            jobs = check_against_redun(project, execution_id)
            writes = by_task(jobs)["fl_cases.shared_write"]
            assert len(writes) == 2, attempt
            assert {j["status"] for j in writes} == ({"completed", "cached"} if attempt == "fresh" else {"cached"})
            for job in writes:  # every run of the task carries the file
                assert job["outputs"] | job["replicated"] == {"out/shared.txt"}, (attempt, job)
        live_and_imported(project, execution_id, monkeypatch, live_db, imported_db)
    use_ledger(monkeypatch, live_db)
    assert fl.Artifact.filter(path=str(project / "out/shared.txt")).count() == 1


def test_a_staged_script_output_is_made_by_the_script_job(project, cases, monkeypatch, tmp_path):
    live_db, imported_db = tmp_path / "live.db", tmp_path / "imported.db"
    use_ledger(monkeypatch, live_db)
    result, execution_id = run(project, cases.scripted("out/scripted.txt"))
    assert result.path == "out/scripted.txt" and (project / "out/scripted.txt").read_text() == "scripted\n"
    imported(project, execution_id, imported_db)
    for ledger in (live_db, imported_db):
        use_ledger(monkeypatch, ledger)
        tasks = by_task(ledger_jobs(execution_id, project))
        assert tasks["redun.script"][0]["outputs"] == {"out/scripted.txt"}, ledger
        assert tasks["redun.script"][0]["inputs"] == set(), ledger
        assert tasks["fl_cases.scripted"][0]["outputs"] == set(), ledger
        # redun's postprocessing child starts once the file is there: an input, passed back, not made.
        assert tasks["redun.postprocess_script"][0]["inputs"] == {"out/scripted.txt"}, ledger
        assert all(not job["outputs"] for name, jobs in tasks.items() if name != "redun.script" for job in jobs)
        # Against redun.db: every job as redun has it, outputs from its results. (Its `file` table holds
        # no row for a staged argument, and it cannot say that the staged output did not exist yet
        # when the script job started: the inputs are checked above.)
        redun = redun_jobs(project / "redun.db", execution_id)
        ledger = ledger_jobs(execution_id, project)
        assert set(ledger) == set(redun)
        for job_id, job in ledger.items():
            assert (job["task"], job["status"]) == (redun[job_id]["task"], STATUS[redun[job_id]["status"]])
            assert job["outputs"] <= redun[job_id]["result"], job
    live_and_imported(project, execution_id, monkeypatch, live_db, imported_db)
    made = fl.Artifact.filter(path=str(project / "out/scripted.txt")).one()
    assert made.run.transform.name == "redun.script"


def test_a_file_deleted_later_in_the_execution_stays_in_the_lineage(project, cases, monkeypatch, tmp_path):
    """make_tmp writes out/tmp.txt, consume reads it, clean deletes it: it stays a node (issue 9.1, 9.7)."""
    import flowledger.background

    # A slow recorder (a busy ledger, a loaded machine): it must not see the file only once it is gone.
    monkeypatch.setattr(flowledger.background, "LINGER_S", 3.0)
    result, execution_id = run(project, cases.cleanup_flow("out"))
    assert result == "out/final.txt" and not (project / "out/tmp.txt").exists()
    jobs = by_task(check_against_redun(project, execution_id))
    assert jobs["fl_cases.make_tmp"][0]["outputs"] == {"out/tmp.txt"}
    assert jobs["fl_cases.consume"][0]["inputs"] == {"out/tmp.txt"}
    assert jobs["fl_cases.clean"][0]["inputs"] == {"out/tmp.txt", "out/final.txt"}
    tmp = fl.Artifact.filter(path=str(project / "out/tmp.txt")).one()
    assert tmp.state == "deleted" and tmp.run.transform.name == "fl_cases.make_tmp"
    assert tmp.hash is not None
    assert fl.Artifact.filter(path=str(project / "out/final.txt")).one().state != "deleted"

    # imported afterwards, when the file is long gone: still the node between make_tmp and consume
    imported_db = tmp_path / "imported.db"
    imported(project, execution_id, imported_db)
    use_ledger(monkeypatch, imported_db)
    tmp = fl.Artifact.filter(path=str(project / "out/tmp.txt")).one()
    assert tmp.state == "deleted" and tmp.run.transform.name == "fl_cases.make_tmp"
    readers = {run.transform.name for run in tmp.input_of_runs}
    assert readers == {"fl_cases.consume", "fl_cases.clean"}


def resolved(paths, root):
    """Paths relative to `root`, with symlinked folders resolved (as the ledger identifies files)."""
    return {os.path.relpath(os.path.realpath(root / path), os.path.realpath(root)) for path in paths}


@pytest.mark.parametrize("write_via, read_via", [("link", "real"), ("real", "link")])
def test_a_file_written_and_read_through_a_symlinked_folder_is_one_artifact(
    project, cases, monkeypatch, tmp_path, write_via, read_via
):
    """Written as link/out.txt and read as real/out.txt (and the reverse): one artifact (issue 9.2)."""
    (project / "real").mkdir()
    (project / "link").symlink_to(project / "real", target_is_directory=True)
    (project / "out").mkdir()
    live_db, imported_db = tmp_path / "live.db", tmp_path / "imported.db"
    use_ledger(monkeypatch, live_db)
    _, writing = run(project, cases.write_to(f"{write_via}/out.txt"))
    _, reading = run(project, cases.read_from(File(f"{read_via}/out.txt"), "out/copy.txt"))
    for execution_id in (writing, reading):
        imported(project, execution_id, imported_db)
    for ledger in (live_db, imported_db):
        use_ledger(monkeypatch, ledger)
        for execution_id in (writing, reading):  # against redun.db, paths resolved
            redun = redun_jobs(project / "redun.db", execution_id)
            produced = redun_produced(redun)
            for job_id, job in ledger_jobs(execution_id, project).items():
                assert job["outputs"] | job["replicated"] == resolved(produced[job_id], project), job
                assert job["inputs"] == resolved(redun[job_id]["args"], project), job
        [made] = fl.Artifact.filter(path=str(project.resolve() / "real/out.txt")).all()
        assert made.run.transform.name == "fl_cases.write_to"
        assert made.user_path in (None, f"{write_via}/out.txt", str(project / write_via / "out.txt"))
        reader = fl.Run.filter(reference_type="redun_job_id", transform__name="fl_cases.read_from").one()
        assert [a.uid for a in reader.inputs.all()] == [made.uid]
        assert [a.uid for a in fl.Artifact.filter().all() if a.path.endswith("/out.txt")] == [made.uid]


@pytest.mark.parametrize("write_via, read_via", [("link", "real"), ("real", "link")])
def test_one_execution_writing_and_reading_through_a_symlinked_folder(project, cases, write_via, read_via):
    """The reader gets the file under both names (the one it reads, and its writer's result): one input."""
    (project / "real").mkdir()
    (project / "link").symlink_to(project / "real", target_is_directory=True)
    (project / "out").mkdir()
    _, execution_id = run(project, cases.linked_flow(f"{write_via}/out.txt", f"{read_via}/out.txt", "out/copy.txt"))
    redun = redun_jobs(project / "redun.db", execution_id)
    produced = redun_produced(redun)
    jobs = ledger_jobs(execution_id, project)
    assert set(jobs) == set(redun)
    for job_id, job in jobs.items():
        assert job["outputs"] | job["replicated"] == resolved(produced[job_id], project), job
        assert job["inputs"] == resolved(redun[job_id]["args"], project), job
    [made] = fl.Artifact.filter(path=str(project.resolve() / "real/out.txt")).all()
    assert made.run.transform.name == "fl_cases.write_to"
    reader = fl.Run.filter(reference_type="redun_job_id", transform__name="fl_cases.read_after").one()
    assert [a.uid for a in reader.inputs.all()] == [made.uid]
