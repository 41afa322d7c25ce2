"""Live recording through `flowledger_redun.Scheduler` and `redun.run(..., config_dir=)`, checked
against redun's own database: fresh run, full cache hit, changed input, failure, nested results."""

import hashlib
import sqlite3
import warnings

import flowledger as fl
import pytest
import redun
from flowledger_redun import Scheduler
from redun.scheduler import DryRunResult
from redun_testlib import by_task, check_against_redun, ledger_jobs, redun_config, redun_executions

TASKS = {
    "fl_test.count_words": 3,
    "fl_test.normalize": 3,
    "fl_test.merge_report": 1,
    "fl_test.level1": 1,
    "fl_test.level2": 1,
    "fl_test.write_summary": 1,
    "fl_test.main": 1,
}


def run(wf, root, fail_on="", scheduler_class=Scheduler, **kwargs):
    scheduler = scheduler_class(config=redun_config(root))
    scheduler.load()
    result = scheduler.run(wf.main("data", "out", fail_on), **kwargs)
    return result, redun_executions(root / "redun.db")[-1]


def test_fresh_run(project, wf):
    result, execution_id = run(wf, project)
    assert [f.path for f in result] == ["out/report.tsv", "out/summary.txt"]
    execution = fl.Run.filter(reference=execution_id, reference_type="redun_id").one()
    assert execution.status == "completed"
    assert execution.transform.type == "pipeline" and execution.transform.name == "fl_test.main"
    assert execution.json["args"][0] == "scheduler.run"
    ledger = check_against_redun(project, execution_id)
    tasks = by_task(ledger)
    assert {name: len(jobs) for name, jobs in tasks.items()} == TASKS
    assert all(job["status"] == "completed" for job in ledger.values())
    # A file returned through level1 -> level2 -> write_summary belongs to write_summary alone.
    assert tasks["fl_test.write_summary"][0]["outputs"] == {"out/summary.txt"}
    assert tasks["fl_test.level1"][0]["outputs"] == tasks["fl_test.main"][0]["outputs"] == set()
    assert tasks["fl_test.merge_report"][0]["inputs"] == {f"out/sample_{s}.norm.tsv" for s in "ABC"}
    # Transforms: the task's full name, redun's task hash as version, the source code.
    job_run = fl.Run.filter(reference=next(iter(ledger)), reference_type="redun_job_id").one()
    assert job_run.initiated_by_run.uid == execution.uid
    count = fl.Transform.filter(name="fl_test.count_words").one()
    assert (count.type, count.version) == ("task", wf.count_words.hash)
    assert "def count_words" in count.source_code and count.description == "Count the words of one sample"
    # Our own content hash.
    report = fl.Artifact.filter(path=str(project / "out/report.tsv")).one()
    assert report.hash == hashlib.sha256((project / "out/report.tsv").read_bytes()).hexdigest()
    assert report.run.transform.name == "fl_test.merge_report"
    job = fl.Run.filter(reference_type="redun_job_id").all()[0]
    assert job.json["execution_id"] == execution_id and "task_hash" in job.json
    # The decorator adds no argument to redun's records: count_words(sample, outdir), 3 calls.
    con = sqlite3.connect(project / "redun.db")
    assert con.execute(
        "SELECT count(*) FROM argument a JOIN call_node c ON c.call_hash = a.call_hash "
        "WHERE c.task_name = 'fl_test.count_words'"
    ).fetchone() == (6,)
    con.close()


def test_cached_rerun_points_at_the_original_artifacts(project, wf):
    run(wf, project)
    first = fl.Artifact.filter(path=str(project / "out/report.tsv")).one()
    _, execution_id = run(wf, project)
    ledger = check_against_redun(project, execution_id)
    assert {job["status"] for job in ledger.values()} == {"cached"}
    assert all(job["outputs"] == set() for job in ledger.values())
    merge = by_task(ledger)["fl_test.merge_report"][0]
    assert merge["replicated"] == {"out/report.tsv"}
    assert fl.Artifact.filter(path=str(project / "out/report.tsv")).one().uid == first.uid


def test_plain_redun_cache_is_kept_when_recording_starts(project, wf):
    """Same task hashes with and without the plugin: turning it on re-runs nothing."""
    run(wf, project, scheduler_class=redun.Scheduler)
    assert fl.Run.filter(reference_type="redun_id").count() == 0
    _, execution_id = run(wf, project)
    assert {job["status"] for job in check_against_redun(project, execution_id).values()} == {"cached"}


def test_rerun_after_one_input_changed(project, wf):
    run(wf, project)
    before = fl.Artifact.filter(path=str(project / "out/sample_B.counts.tsv")).one()
    (project / "data/sample_B.txt").write_text("brand new words words\n")
    _, execution_id = run(wf, project)
    ledger = check_against_redun(project, execution_id)
    counts = {sorted(j["inputs"])[0]: j for j in by_task(ledger)["fl_test.count_words"]}
    assert counts["data/sample_B.txt"]["status"] == "completed"
    assert counts["data/sample_A.txt"]["status"] == "cached"
    after = fl.Artifact.filter(path=str(project / "out/sample_B.counts.tsv")).one()
    assert after.version == before.version + 1 and after.hash != before.hash
    assert fl.Artifact.filter(path=str(project / "data/sample_B.txt")).one().version == 2


def test_failing_task(project, wf):
    with pytest.raises(ValueError, match="simulated failure") as raised:
        run(wf, project, fail_on="sample_B")
    execution_id = redun_executions(project / "redun.db")[-1]
    execution = fl.Run.filter(reference=execution_id, reference_type="redun_id").one()
    assert execution.status == "errored" and "simulated failure" in execution.error
    ledger = check_against_redun(project, execution_id)
    failing = [j for j in by_task(ledger)["fl_test.normalize"] if j["status"] == "errored"]
    assert len(failing) == 1 and failing[0]["error"] == f"ValueError: {raised.value}"
    assert failing[0]["inputs"] == {"out/sample_B.counts.tsv"} and failing[0]["outputs"] == set()
    main = by_task(ledger)["fl_test.main"][0]
    assert main["status"] == "errored"
    assert "merge_report" not in {j["task"] for j in ledger.values()}


def test_same_failure_without_the_plugin(project, wf):
    with pytest.raises(ValueError) as plain:
        run(wf, project, fail_on="sample_B", scheduler_class=redun.Scheduler)
    with pytest.raises(ValueError) as recorded:
        run(wf, project, fail_on="sample_B")
    assert str(plain.value) == str(recorded.value)


def test_redun_run_with_config_dir(project, wf, monkeypatch):
    """`redun.run(expr, config_dir=...)` with the ini line records (it caches its scheduler by dir)."""
    monkeypatch.setattr(redun, "_config2scheduler", {})
    result = redun.run(wf.main("data", "out"), config_dir=str(project / ".redun"))
    assert result[0].path == "out/report.tsv"
    [execution_id] = redun_executions(project / ".redun" / "redun.db")
    run_ = fl.Run.filter(reference=execution_id, reference_type="redun_id").one()
    assert run_.status == "completed" and len(run_.children.all()) == sum(TASKS.values())


def test_dryrun_records_nothing(project, wf):
    scheduler = Scheduler(config=redun_config(project))
    scheduler.load()
    with pytest.raises(DryRunResult):  # redun's way to end a dry run that would have to run jobs
        scheduler.run(wf.main("data", "out"), dryrun=True)
    assert fl.Run.filter(reference_type="redun_id").count() == 0


def flowledger_warnings(capsys):
    """The lines about flowledger on stderr, where the core's `print_warning` puts each warning."""
    return [line for line in capsys.readouterr().err.splitlines() if "flowledger" in line]


def test_a_broken_ledger_is_one_warning(project, wf, monkeypatch, tmp_path, capsys):
    (tmp_path / "not_a_folder").write_text("")
    monkeypatch.setenv("FLOWLEDGER_DB", str(tmp_path / "not_a_folder" / "ledger.db"))
    plain, _ = run(wf, project, scheduler_class=redun.Scheduler)
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recorded, _ = run(wf, project)
    assert [f.path for f in recorded] == [f.path for f in plain]
    ours = flowledger_warnings(capsys) + [str(w.message) for w in caught if "flowledger" in str(w.message)]
    assert len(ours) == 1, ours


def test_a_tracker_bug_is_one_warning(project, wf, monkeypatch, capsys):
    import flowledger_redun.tracker as tracker

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(tracker, "job_inputs", broken)
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result, execution_id = run(wf, project)
    assert result[0].path == "out/report.tsv"
    ours = flowledger_warnings(capsys) + [str(w.message) for w in caught if "flowledger" in str(w.message)]
    assert len(ours) == 1 and "boom" in ours[0]
    # What was recorded before the failure stays: the execution's Run.
    assert fl.Run.filter(reference=execution_id, reference_type="redun_id").count() == 1


def test_jobs_running_when_redun_stops_are_aborted(project, wf):
    scheduler = Scheduler(config=redun_config(project))
    scheduler.load()
    with pytest.raises(RuntimeError, match="cannot read"):
        scheduler.run(wf.race("data", "out"))
    execution_id = redun_executions(project / "redun.db")[-1]
    ledger = check_against_redun(project, execution_id)
    tasks = by_task(ledger)
    assert tasks["fl_test.failer"][0]["status"] == "errored"
    assert tasks["fl_test.failer"][0]["inputs"] == {"data/sample_A.txt"}
    assert tasks["fl_test.sleeper"][0]["status"] == "aborted"
    assert tasks["fl_test.race"][0]["status"] == "errored"
    execution = fl.Run.filter(reference=execution_id, reference_type="redun_id").one()
    assert execution.status == "errored" and execution.error == "RuntimeError: cannot read data/sample_A.txt"


def test_content_hashing_happens_off_the_scheduler_thread(project, wf, monkeypatch):
    import threading

    import flowledger.hashing
    import flowledger_redun.tracker as tracker

    scheduler_threads, hashing_threads = set(), set()
    job_inputs, content = tracker.job_inputs, flowledger.hashing.Hasher.content

    def spy_inputs(*args, **kwargs):  # called from record_job_start: on redun's scheduler thread
        scheduler_threads.add(threading.get_ident())
        return job_inputs(*args, **kwargs)

    def spy_content(self, path, *args):
        hashing_threads.add(threading.get_ident())
        return content(self, path, *args)

    monkeypatch.setattr(tracker, "job_inputs", spy_inputs)
    monkeypatch.setattr(flowledger.hashing.Hasher, "content", spy_content)
    _, execution_id = run(wf, project)
    check_against_redun(project, execution_id)
    assert scheduler_threads and hashing_threads
    assert not scheduler_threads & hashing_threads


def test_a_task_returning_an_expression_is_judged_by_its_evaluated_result(project, wf):
    """note_via_child writes out/note.txt and returns identity(note): the file appears only in the
    evaluated result, and identity got it as an input, so it is note_via_child's output."""
    scheduler = Scheduler(config=redun_config(project))
    scheduler.load()
    assert scheduler.run(wf.note_via_child("out/note.txt")).path == "out/note.txt"
    execution_id = redun_executions(project / "redun.db")[-1]
    tasks = by_task(ledger_jobs(execution_id, project))
    assert tasks["fl_test.note_via_child"][0]["outputs"] == {"out/note.txt"}
    assert tasks["fl_test.identity"][0]["inputs"] == {"out/note.txt"}
    assert tasks["fl_test.identity"][0]["outputs"] == set()
    note = fl.Artifact.filter(path=str(project / "out/note.txt")).one()
    assert note.run.transform.name == "fl_test.note_via_child"
