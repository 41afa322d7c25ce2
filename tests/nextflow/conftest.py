"""Fixtures for the Nextflow plugin tests: a rebuilt launch dir, a loopback receiver, a fake `nextflow`."""

import os
import sys
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
