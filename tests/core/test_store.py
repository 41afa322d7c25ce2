"""The ledger file: where it is, concurrent writers, crashes, corrupt and read-only ledgers."""

import signal
import sqlite3
import subprocess
import sys
import textwrap

import flowledger as fl
import pytest
from flowledger.location import resolve_ledger_path
from flowledger.plugin_api import BackgroundRecorder, LedgerError, Recorder, TransformSpec
from flowledger.store import Ledger, forget_ledgers


def test_location_order(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / ".flowledger").mkdir(parents=True)
    (project / "sub" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(project / "sub" / "deeper")
    monkeypatch.setenv("FLOWLEDGER_DB", str(tmp_path / "env.db"))
    assert resolve_ledger_path(tmp_path / "given.db") == tmp_path / "given.db"
    assert resolve_ledger_path() == tmp_path / "env.db"
    monkeypatch.delenv("FLOWLEDGER_DB")
    assert resolve_ledger_path() == project / ".flowledger" / "ledger.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_ledger_path() == tmp_path / "xdg" / "flowledger" / "ledger.db"


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from flowledger.plugin_api import Recorder, TransformSpec
    worker, jobs, folder = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    recorder = Recorder()
    run = recorder.start_run(TransformSpec(name="writer"), reference=worker, reference_type="test")
    for i in range(jobs):
        out = folder / f"{worker}-{i}.txt"
        out.write_text(f"{worker} {i}")
        recorder.record_job(TransformSpec(name="step", type="task"), outputs=[out], initiated_by=run)
    recorder.finish_run(run)
""")


@pytest.mark.slow
def test_concurrent_writers_lose_nothing(tmp_path):
    workers, jobs = 4, 150
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, f"w{n}", str(jobs), str(tmp_path)], stderr=subprocess.PIPE, text=True
        )
        for n in range(workers)
    ]
    errors = [p.communicate()[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * workers, errors
    assert not any("locked" in e for e in errors)
    assert fl.Run.filter(transform__name="step").count() == workers * jobs
    assert fl.Run.filter(transform__name="writer", status="completed").count() == workers
    assert fl.Artifact.filter(path__startswith=str(tmp_path)).count() == workers * jobs


def test_a_killed_writer_leaves_a_consistent_ledger_with_its_run_unfinished(tmp_path, ledger_path):
    script = textwrap.dedent("""
        import os, signal
        from flowledger.plugin_api import Recorder, TransformSpec
        recorder = Recorder()
        recorder.start_run(TransformSpec(name="doomed"), reference="r1", reference_type="test")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script])
    assert result.returncode == -signal.SIGKILL
    connection = sqlite3.connect(ledger_path)
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    run = fl.Run.filter(reference="r1").one()
    assert run.status == "started" and run.finished_at is None


def test_a_corrupt_ledger_is_named_in_the_error(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match=f"ledger {bad} is corrupt or not a flowledger ledger"):
        Recorder(bad)


READ_ONLY_CHECK = textwrap.dedent("""
    import flowledger as fl
    from flowledger.plugin_api import LedgerError
    from flowledger.plugin_api import Recorder, TransformSpec
    print("read:", fl.Run.filter(reference="kept").one().transform.name)
    try:
        Recorder().start_run(TransformSpec(name="after"))
    except LedgerError as error:
        print("write:", error)
""")


def test_a_read_only_ledger_can_be_read_but_not_written(ledger_path):
    """The ledger's folder is mounted read-only (as on a read-only share); root cannot write there either."""
    recorder = Recorder()
    recorder.start_run(TransformSpec(name="before"), reference="kept", reference_type="test")
    recorder.close()
    forget_ledgers()
    folder = ledger_path.parent
    script = (
        f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && "
        f"exec {sys.executable} -c '{READ_ONLY_CHECK}'"
    )
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True)
    if result.returncode != 0 and "mount" in result.stderr:
        pytest.skip(f"cannot mount read-only here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    assert "read: before" in result.stdout
    assert f"write: ledger {ledger_path} is read-only: nothing can be recorded there" in result.stdout
    assert fl.Run.filter(reference="kept").count() == 1  # nothing lost


def test_background_recorder_warns_once_and_keeps_what_was_written(tmp_path, ledger_path):
    messages = []
    background = BackgroundRecorder(warn=messages.append)
    run = background.start_run(TransformSpec(name="wf"), reference="bg", reference_type="test")
    background.flush()
    # break the ledger under the recorder's feet: every later write fails
    Ledger(ledger_path).conn.execute("DROP TABLE run_inputs")
    for i in range(5):
        (tmp_path / f"{i}.txt").write_text(str(i))
        background.record_job(TransformSpec(name="step"), inputs=[tmp_path / f"{i}.txt"], initiated_by=run)
    background.close()
    assert len(messages) == 1 and "flowledger could not record lineage" in messages[0]
    assert background.failures == 5
    assert fl.Run.filter(reference="bg").one().transform.name == "wf"


def test_background_recorder_on_a_corrupt_ledger_never_raises(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 200)
    messages = []
    background = BackgroundRecorder(bad, warn=messages.append)
    background.start_run(TransformSpec(name="wf"))
    background.close()
    assert len(messages) == 1 and str(bad) in messages[0]


def test_background_recorder_batches_many_jobs(tmp_path):
    background = BackgroundRecorder()
    run = background.start_run(TransformSpec(name="wf"))
    for i in range(300):
        path = tmp_path / f"{i}.txt"
        path.write_text(str(i))
        background.record_job(
            TransformSpec(name="step"), outputs=[path], initiated_by=run, reference=str(i), reference_type="job"
        )
    background.finish_run(run)
    background.close()
    assert fl.Run.filter(transform__name="step").count() == 300
    assert fl.Run.filter(transform__name="wf").one().status == "completed"


def test_migrations_are_recorded(ledger_path):
    Recorder()
    rows = sqlite3.connect(ledger_path).execute("SELECT migration_set, name FROM _sqlite_migrations").fetchall()
    assert ("flowledger", "m001_initial") in rows
    assert sqlite3.connect(ledger_path).execute("PRAGMA journal_mode").fetchone() == ("wal",)
