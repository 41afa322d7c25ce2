"""The Nextflow plugin recording into a ledger on a PostgreSQL server (issue 11), the URL given as `--db`:
`flowledger nextflow run` (live weblog receiver + import), `flowledger nextflow import`, and
`flowledger nextflow serve` with the `-c "$(flowledger nextflow config --weblog URL)"` hook, against the
fake `nextflow`. Each records the lineage the SQLite ledger gets."""

import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nf_samples
import pytest
from flowledger.lineage import ancestors
from flowledger.models import Artifact, Run
from flowledger.plugin_api import Recorder
from flowledger.store import forget_ledgers
from flowledger_nextflow.importer import import_launch_dir
from nf_support import snapshot

FLOWLEDGER = str(Path(sys.executable).with_name("flowledger"))
TASKS = ["lineage-demo:TRIM"] * 3 + ["lineage-demo:COUNT"] * 3 + ["lineage-demo:MERGE"]


def use_ledger(monkeypatch, db) -> None:
    """Point the models (and the subprocesses started afterwards) at `db`."""
    monkeypatch.setenv("FLOWLEDGER_DB", str(db))
    forget_ledgers()


def flowledger(*args, cwd=None, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([FLOWLEDGER, *args], cwd=cwd, capture_output=True, text=True, timeout=120, **popen)


def check_summary_lineage(launch: Path, workflow_run) -> None:
    """`flowledger lineage results/summary.tsv`: MERGE -> COUNT x3 -> TRIM x3 -> data/s*.fastq, all tasks of
    `workflow_run`."""
    published = Artifact.filter(path=str(launch / "results" / "summary.tsv")).one()
    assert published.run.reference == "41/1d96d1" and published.run.initiated_by_run == workflow_run
    graph = ancestors(published)
    makers = {a.run_id: graph.runs[a.run_id] for a in graph.artifacts.values() if a.run_id is not None}
    assert sorted(r.transform.name for r in makers.values()) == sorted(TASKS)
    assert {r.initiated_by_run_id for r in makers.values()} == {workflow_run.id}
    raw = sorted(a.path for a in graph.artifacts.values() if a.run is None)
    assert raw == [str(launch / "data" / f"s{i}.fastq") for i in (1, 2, 3)]


def sqlite_import(launch: Path) -> dict:
    """What importing the launch dir records into this test's own SQLite ledger (the reference)."""
    recorder = Recorder()
    try:
        import_launch_dir(recorder, launch)
    finally:
        recorder.close()
    return snapshot(launch)


@pytest.mark.slow
def test_nextflow_run_records_into_postgresql(tmp_path, fake_nextflow, server_ledger, monkeypatch):
    launch = nf_samples.build_pipeline(tmp_path / "demo")
    use_ledger(monkeypatch, tmp_path / "decoy" / "ledger.db")  # --db must win over FLOWLEDGER_DB
    ok = flowledger("--db", server_ledger, "nextflow", "run", "main.nf", cwd=launch)
    failed = flowledger(
        "nextflow", "run", "main.nf", "--param", "reads=data_bad/*.fastq", "--db", server_ledger, cwd=launch
    )
    assert (ok.returncode, failed.returncode) == (0, 1), ok.stderr + failed.stderr
    assert "WARNING" not in ok.stderr + failed.stderr
    assert not (tmp_path / "decoy").exists()

    use_ledger(monkeypatch, server_ledger)
    first, second = Run.filter(reference_type="nextflow_id").order_by("id").all()
    assert f"recorded Nextflow run {first.reference} as {first.uid} (completed)" in ok.stderr
    assert (first.status, first.exit_code, second.status, second.exit_code) == ("completed", 0, "errored", 1)
    assert first.transform.name == "lineage-demo" and first.transform.type == "pipeline"
    tasks = Run.filter(initiated_by_run=first).all()
    assert sorted(t.transform.name for t in tasks) == sorted(TASKS)
    assert {t.status for t in tasks} == {"completed"} and {t.reference_type for t in tasks} == {"nextflow_task_hash"}
    check_summary_lineage(launch, first)
    failed_tasks = {t.json["name"]: t.status for t in Run.filter(initiated_by_run=second).all()}
    assert failed_tasks == {
        **{f"TRIM (s{i})": "completed" for i in (1, 2, 3)},
        **{f"COUNT (s{i})": "completed" for i in (1, 2)},
        "COUNT (s3)": "errored",
    }


def test_import_into_postgresql_records_what_sqlite_does(launch_dir, server_ledger, monkeypatch):
    on_sqlite = sqlite_import(launch_dir)
    done = flowledger("--db", server_ledger, "nextflow", "import", str(launch_dir))
    assert done.returncode == 0, done.stderr
    use_ledger(monkeypatch, server_ledger)
    assert snapshot(launch_dir) == on_sqlite and len(on_sqlite) == 15
    check_summary_lineage(launch_dir, Run.filter(reference=nf_samples.OK, reference_type="nextflow_id").one())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except OSError:
        return False


@pytest.mark.slow
def test_serve_and_hook_record_into_postgresql(tmp_path, fake_nextflow, server_ledger, monkeypatch):
    """`flowledger nextflow serve --db URL` and the hook of `flowledger nextflow config --db URL --weblog ...`,
    used as `serve` tells the user to: one consistent record, the one an import into SQLite makes."""
    launch = nf_samples.build_pipeline(tmp_path / "demo")
    use_ledger(monkeypatch, tmp_path / "decoy" / "ledger.db")  # --db must win over FLOWLEDGER_DB
    port = free_port()
    server = subprocess.Popen(
        [FLOWLEDGER, "nextflow", "serve", "--port", str(port), "--db", server_ledger], stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/health"))
        # serve prints the command that makes the config: run it as a user would paste it into a shell
        advice = [server.stderr.readline() for _ in range(3)][-1]
        make_config = re.search(r'nextflow run main.nf -c "\$\((.*)\)"$', advice.strip()).group(1)
        assert shlex.split(make_config)[3:5] == ["--db", server_ledger]
        env = {**os.environ, "PATH": f"{Path(FLOWLEDGER).parent}{os.pathsep}{os.environ['PATH']}"}
        done = subprocess.run(
            ["bash", "-c", make_config], cwd=launch, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        config = done.stdout.strip()
        assert f"'--db', '{server_ledger}'" in Path(config).read_text()  # the hook gets the URL as it is
        for args in (["main.nf", "-c", config], ["main.nf", "-c", config, "--reads", "data_bad/*.fastq"]):
            ran = subprocess.run(["nextflow", "run", *args], cwd=launch, capture_output=True, text=True, timeout=120)
            assert "WARNING" not in ran.stderr and "task runs recorded" in ran.stderr, ran.stderr
    finally:
        server.terminate()
        _, err = server.communicate(timeout=60)
    assert "44 events recorded, 0 rejected, 0 failed" in err, err
    assert not (tmp_path / "decoy").exists()

    use_ledger(monkeypatch, server_ledger)
    recorded = snapshot(launch)
    check_summary_lineage(launch, Run.filter(reference=nf_samples.OK, reference_type="nextflow_id").one())
    assert Run.filter(reference=nf_samples.FAIL).one().status == "errored"
    use_ledger(monkeypatch, tmp_path / "import-only.db")
    assert sqlite_import(launch) == recorded and len(recorded) == 15
