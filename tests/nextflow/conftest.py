"""Fixtures for the Nextflow plugin tests: a rebuilt launch dir, a loopback receiver, a fake `nextflow`."""

import base64
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import nf_samples  # noqa: E402


@pytest.fixture
def launch_dir(tmp_path) -> Path:
    """Both reference runs (OK, then FAIL) rebuilt under a temporary root."""
    return nf_samples.build_both(tmp_path / "lineage-demo")


@pytest.fixture
def fake_nextflow(tmp_path, monkeypatch) -> Path:
    """A `nextflow` on PATH that plays back the samples (see fake_nextflow.py)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "nextflow"
    exe.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(HERE)!r})\n"
        f"import fake_nextflow\nsys.exit(fake_nextflow.main(sys.argv[1:]))\n"
    )
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return exe


def post(url: str, body, token: str | None = None, headers: dict | None = None) -> tuple[int, str]:
    """POST over real HTTP; returns (status, body) also for 4xx answers."""
    data = body if isinstance(body, bytes) else body.encode()
    all_headers = {"Content-Type": "application/json", "User-Agent": "Nextflow/26.04.6", **(headers or {})}
    if token:
        all_headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
    request = urllib.request.Request(url, data=data, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def receiver():
    """A receiver on a loopback port with a token; stopped (and drained) after the test."""
    from flowledger.plugin_api import Recorder
    from flowledger_nextflow.receiver import Receiver

    warnings = []
    started = Receiver(Recorder, host="127.0.0.1", port=0, token="alice:s3cret", warn=warnings.append).start()
    started.warnings = warnings
    yield started
    started.stop()


def snapshot(root) -> dict:
    """The recorded lineage, independent of uids and of when it was recorded: per run (reference), its
    transform, status, exit code, parent, and input / output / replicated paths relative to `root`."""
    from flowledger.models import Run

    root = str(root)

    def rel(artifacts):
        return sorted(a.path.replace(root, "ROOT") for a in artifacts)

    out = {}
    for run in Run.filter(reference_type__in=["nextflow_id", "nextflow_task_hash"]).all():
        parent = run.initiated_by_run
        out[run.reference] = {
            "transform": (run.transform.name, run.transform.version, run.transform.type),
            "status": run.status,
            "exit_code": run.exit_code,
            "parent": parent.reference if parent else None,
            "inputs": rel(run.inputs.all()),
            "outputs": rel(run.outputs.all()),
            "replicated": rel(run.replicated_output_artifacts.all()),
        }
    return out
