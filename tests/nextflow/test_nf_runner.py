"""End to end against a fake `nextflow` on PATH that plays back the samples: the Python runner, the
hook config (`nextflow run main.nf -c "$(flowledger nextflow config)"`), and `flowledger nextflow serve`."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import flowledger_nextflow
import nf_samples
import pytest
from flowledger.models import Artifact, Run
from flowledger_nextflow.errors import NextflowError
from nf_support import snapshot


def test_missing_nextflow_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NextflowError, match="`nextflow` executable was not found on PATH"):
        flowledger_nextflow.run("main.nf", launch_dir=tmp_path)


@pytest.mark.slow
def test_runner_records_a_successful_run(tmp_path, fake_nextflow):
    launch = nf_samples.build_pipeline(tmp_path / "demo")
    lines = []

    class Stream:
        def write(self, text):
            lines.append(text)

        def flush(self):
            pass

    info = flowledger_nextflow.run("main.nf", params={"outdir": "results"}, launch_dir=launch, stream=Stream())
    run = Run.get(info.uid)  # the runner returns the recorded run's RunInfo; the model has the rest
    assert (info.status, info.reference, info.reference_type) == (run.status, run.reference, run.reference_type)
    assert run.status == "completed" and run.reference.startswith("fl_") and run.reference_type == "nextflow_id"
    assert any("Submitted process > MERGE" in line for line in lines)
    assert run.json["nextflow_version"] == "26.04.6"
    # the session id chosen up front (NXF_UUID) is the one Nextflow used: the stream and the import agree
    assert run.json["session_id"] != nf_samples.SESSIONS[nf_samples.OK] and len(run.json["session_id"]) == 36
    assert Run.filter(reference=run.reference).count() == 1
    tasks = Run.filter(initiated_by_run=run).all()
    assert len(tasks) == 7 and {t.status for t in tasks} == {"completed"}
    # recorded from the weblog (the fake's default trace file has no `attempt` or `process` column)
    assert {t.json.get("attempt") for t in tasks} == {1}
    published = Artifact.filter(path=str(launch / "results" / "summary.tsv")).one()
    assert published.run.reference == "41/1d96d1"


@pytest.mark.slow
def test_runner_records_a_failed_run_and_a_resume(tmp_path, fake_nextflow):
    launch = nf_samples.build_pipeline(tmp_path / "demo")
    failed = Run.get(
        flowledger_nextflow.run("main.nf", params={"reads": "data_bad/*.fastq"}, launch_dir=launch, stream=False).uid
    )
    assert failed.status == "errored" and failed.exit_code == 1
    assert {t.status for t in Run.filter(initiated_by_run=failed)} == {"completed", "errored"}
    with pytest.raises(NextflowError, match="failed with exit status 1"):
        flowledger_nextflow.run(
            "main.nf", params={"reads": "data_bad/*.fastq"}, launch_dir=launch, stream=False, check=True
        )
    ok = Run.get(flowledger_nextflow.run("main.nf", launch_dir=launch, stream=False).uid)
    resumed = Run.get(flowledger_nextflow.run("main.nf", launch_dir=launch, resume=True, stream=False).uid)
    assert resumed.json["session_id"] == ok.json["session_id"] and resumed.status == "completed"
    cached = Run.filter(initiated_by_run=resumed).all()
    assert len(cached) == 7 and {c.status for c in cached} == {"cached"}


@pytest.mark.slow
def test_runner_db_argument_leaves_the_environment_alone(tmp_path, fake_nextflow, ledger_path):
    from flowledger.store import get_ledger

    launch = nf_samples.build_pipeline(tmp_path / "demo")
    other = tmp_path / "other.db"
    info = flowledger_nextflow.run("main.nf", launch_dir=launch, stream=False, db=other)
    assert os.environ["FLOWLEDGER_DB"] == str(ledger_path) and not Run.filter().all()
    run = Run.using(get_ledger(other)).filter(uid=info.uid).one()
    assert run.status == "completed" and Run.using(get_ledger(other)).filter(initiated_by_run=run).count() == 7


def _flowledger(*args, cwd=None, env=None):
    """The installed `flowledger` command, next to this Python."""
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "flowledger"), *args],
        cwd=cwd,
        env=env or os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["ok", "fail"])
def test_hook_config_records_the_run(tmp_path, fake_nextflow, scenario):
    launch = nf_samples.build_pipeline(tmp_path / "demo")
    config = _flowledger("nextflow", "config", cwd=launch)
    assert config.returncode == 0, config.stderr
    path = config.stdout.strip()
    assert os.path.isfile(path) and path.endswith(".config")
    args = ["nextflow", "run", "main.nf", "-c", path]
    if scenario == "fail":
        args += ["--reads", "data_bad/*.fastq"]
    done = subprocess.run(args, cwd=launch, capture_output=True, text=True, timeout=120)
    assert done.returncode == (0 if scenario == "ok" else 1)  # the hook never changes the outcome
    name = nf_samples.OK if scenario == "ok" else nf_samples.FAIL
    assert f"{name}: " in done.stderr and "task runs recorded" in done.stderr, done.stderr
    run = Run.filter(reference=name).one()
    assert run.status == ("completed" if scenario == "ok" else "errored")
    assert run.json["nextflow_version"] == "26.04.6" and run.transform.name == "lineage-demo"
    assert Run.filter(initiated_by_run=run).count() == (7 if scenario == "ok" else 6)


@pytest.mark.slow
def test_hook_warns_once_when_recording_fails(tmp_path, fake_nextflow):
    launch = nf_samples.build_pipeline(tmp_path / "demo")
    env = os.environ.copy()
    env["FLOWLEDGER_DB"] = str(tmp_path / "not-a-dir.txt" / "ledger.db")
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    (tmp_path / "not-a-dir.txt").write_text("a file where the ledger folder should be")
    path = _flowledger("nextflow", "config", cwd=launch, env=env).stdout.strip()
    assert path.startswith(str(tmp_path / "cache")), path
    done = subprocess.run(
        ["nextflow", "run", "main.nf", "-c", path], cwd=launch, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0
    assert done.stderr.count("WARNING") == 1 and "Traceback" not in done.stderr, done.stderr


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_serve_and_hook_together_agree_with_import(tmp_path, fake_nextflow, monkeypatch):
    """`flowledger nextflow serve` as a process, Nextflow with weblog + hook: one consistent record."""
    launch = nf_samples.build_pipeline(tmp_path / "demo")
    port = _free_port()
    server = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "flowledger"),
            "nextflow",
            "serve",
            "--port",
            str(port),
        ],  # no --token: serve makes one and saves it (0600) for `config --weblog`
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/nextflow"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        token_file = tmp_path / "ledger" / "nextflow" / "weblog-token"
        for _ in range(100):
            if token_file.exists():
                break
            time.sleep(0.1)
        assert token_file.stat().st_mode & 0o777 == 0o600
        path = _flowledger("nextflow", "config", "--weblog", url, cwd=launch).stdout.strip()
        assert f"basicToken = '{token_file.read_text().strip()}'" in Path(path).read_text()
        for args in (["main.nf", "-c", path], ["main.nf", "-c", path, "--reads", "data_bad/*.fastq"]):
            subprocess.run(["nextflow", "run", *args], cwd=launch, capture_output=True, timeout=120)
    finally:
        server.terminate()
        _, err = server.communicate(timeout=60)
    assert "44 events recorded, 0 rejected, 0 failed" in err, err
    assert f"receiving Nextflow weblog events at {url}" in err  # bound to loopback without --host
    recorded = snapshot(launch)
    assert Run.filter(reference=nf_samples.OK).one().json["params"] == {
        "reads": f"{launch}/data/*.fastq",
        "outdir": "results",
    }
    from flowledger.store import forget_ledgers

    monkeypatch.setenv("FLOWLEDGER_DB", str(tmp_path / "import-only.db"))
    forget_ledgers()
    assert _flowledger("nextflow", "import", str(launch)).returncode == 0
    assert snapshot(launch) == recorded and len(recorded) == 15
