"""A shared ledger whose server is down, restarts mid-run, or refuses the password: the pipeline goes on
(exit 0, one warning), recording goes into the local spool, and `flowledger push` sends it, exactly once.

Each test has its own PostgreSQL server (started and stopped at will); the pipeline is a real process
recording through the plugin API, as a workflow manager's plugin does.
"""

import os
import shutil
import subprocess
import sys
import textwrap

import flowledger as fl
import pytest
from click.testing import CliRunner
from flowledger.cli import cli
from flowledger.location import ServerLedger
from flowledger.store import forget_ledgers, open_ledger
from postgres_server import start_server

PIPELINE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from flowledger.plugin_api import TransformSpec, open_recorder

    url, folder, pause = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "pause"
    recorder = open_recorder(url)
    workflow = recorder.start_run(TransformSpec(name="wf"), reference="wf-1", reference_type="snakemake_id")
    recorder.flush()
    if pause:  # the test stops or restarts the server now
        (folder / "started").touch()
        while not (folder / "go").exists():
            time.sleep(0.05)
    (folder / "raw.txt").write_text("raw")
    (folder / "out.txt").write_text("out")
    recorder.record_job(TransformSpec(name="make", type="rule"), inputs=[folder / "raw.txt"],
                        outputs=[folder / "out.txt"], initiated_by=workflow)
    recorder.finish_run(workflow)
    recorder.close()
    print("pipeline done")
    """
)


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A server of this test's own, and its ledger's URL; the spool lives under this test's folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))
    pg = start_server()
    if pg is None:
        pytest.fail("PostgreSQL's server programs are not installed: apt-get install postgresql")
    pg.url_of_ledger = pg.url(pg.new_database())
    open_ledger(ServerLedger(pg.url_of_ledger)).close()  # made while the server is up
    yield pg
    forget_ledgers()
    pg.stop("immediate")
    shutil.rmtree(pg.folder, ignore_errors=True)


def pipeline(url, folder, *, pause=False, env=None):
    script = folder / "pipeline.py"
    script.write_text(PIPELINE)
    command = [sys.executable, str(script), url, str(folder), "pause" if pause else "go"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finished(process, timeout=120):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    assert "pipeline done" in out
    return [line for line in err.splitlines() if line.strip()]


def wait_for(path, process):
    while not path.exists():
        assert process.poll() is None, process.communicate()
        subprocess.run(["sleep", "0.05"])


def recorded(url):
    """The workflow run, its job and the job's output, as read from the server."""
    forget_ledgers()
    ledger = open_ledger(ServerLedger(url), spool=False)
    try:
        workflow = fl.Run.using(ledger).filter(reference="wf-1").one()
        jobs = fl.Run.using(ledger).filter(initiated_by_run=workflow).all()
        return workflow, jobs, fl.Artifact.using(ledger).filter(kind="file").all()
    finally:
        ledger.close()


def push(url):
    return CliRunner().invoke(cli, ["push", "--db", url])


def test_server_down_from_the_start(server, tmp_path):
    server.stop()
    lines = finished(pipeline(server.url_of_ledger, tmp_path))
    assert len(lines) == 1 and lines[0].startswith("WARNING: flowledger cannot reach its ledger server")
    assert "spool" in lines[0] and "flowledger push" in lines[0]
    server.resume()
    result = push(server.url_of_ledger)
    assert result.exit_code == 0, result.output
    workflow, jobs, files = recorded(server.url_of_ledger)
    assert workflow.status == "completed" and [job.status for job in jobs] == ["completed"]
    assert sorted(os.path.basename(a.path) for a in files) == ["out.txt", "raw.txt"]
    assert "nothing to push" in push(server.url_of_ledger).output  # exactly once
    assert len(recorded(server.url_of_ledger)[1]) == 1


def test_the_spool_is_pushed_at_the_next_connection(server, tmp_path, monkeypatch):
    server.stop()
    finished(pipeline(server.url_of_ledger, tmp_path))
    server.resume()
    monkeypatch.setattr("flowledger.store.SPOOL_QUIET_S", 0)  # (a spool written in the last minute waits)
    forget_ledgers()
    open_ledger(ServerLedger(server.url_of_ledger)).close()  # what recording does first
    workflow, jobs, _ = recorded(server.url_of_ledger)
    assert workflow.status == "completed" and len(jobs) == 1
    assert "nothing to push" in push(server.url_of_ledger).output


def test_a_restart_mid_run_loses_nothing(server, tmp_path):
    process = pipeline(server.url_of_ledger, tmp_path, pause=True)
    wait_for(tmp_path / "started", process)
    server.restart()  # every connection dropped, as in a crash
    (tmp_path / "go").touch()
    assert finished(process) == []  # reconnected: no warning, no spool
    workflow, jobs, _ = recorded(server.url_of_ledger)
    assert workflow.status == "completed" and [job.status for job in jobs] == ["completed"]
    assert "nothing to push" in push(server.url_of_ledger).output


@pytest.mark.slow  # the recorder waits for the server to come back before it spools (postgres.py)
def test_a_server_gone_mid_run_spools_the_rest(server, tmp_path):
    process = pipeline(server.url_of_ledger, tmp_path, pause=True)
    wait_for(tmp_path / "started", process)
    server.stop("immediate")
    (tmp_path / "go").touch()
    lines = finished(process)
    assert len(lines) == 1 and "spool" in lines[0]
    server.resume()
    result = push(server.url_of_ledger)
    assert result.exit_code == 0, result.output
    workflow, jobs, files = recorded(server.url_of_ledger)
    assert workflow.status == "completed" and [job.status for job in jobs] == ["completed"]
    assert len(files) == 2


def test_a_refused_password_spools_and_is_not_printed(server, tmp_path):
    server.sql("CREATE ROLE alice LOGIN PASSWORD 'right-one'")
    database = server.url_of_ledger.split("/")[3].split("?")[0]
    server.sql("GRANT ALL ON ALL TABLES IN SCHEMA public TO alice; GRANT ALL ON SCHEMA public TO alice", database)
    url = server.tcp_url(database, "alice")
    lines = finished(pipeline(url, tmp_path, env={**os.environ, "PGPASSWORD": "wrong-one"}))
    assert len(lines) == 1 and "password authentication failed" in lines[0] and "wrong-one" not in lines[0]
    result = push(url)  # with the right password, the spool goes to the server
    assert result.exit_code != 0 and "wrong-one" not in result.output
    os.environ["PGPASSWORD"] = "right-one"
    try:
        assert push(url).exit_code == 0
    finally:
        del os.environ["PGPASSWORD"]
    workflow, jobs, _ = recorded(server.url_of_ledger)
    assert workflow.status == "completed" and len(jobs) == 1
