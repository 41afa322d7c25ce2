"""A ledger that cannot be written must not change what Snakemake does: same exit status, same outputs,
one warning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from snakemake_support import clean_env, new_workflow, snakemake_for, tree_digest

pytestmark = pytest.mark.slow

WAIT = 3  # seconds the plugin waits at the end for a locked ledger

TARGETS = ("results/stats/A.json", "results/stats/B.json", "results/fail/shell.txt")


def healthy(root: Path) -> Path:
    return root / "ledger.db"


def corrupt(root: Path) -> Path:
    path = root / "corrupt.db"
    path.write_bytes(b"this is not an SQLite database\n" * 200)
    return path


def unwritable(root: Path) -> Path:
    """A ledger path whose folder cannot exist (a file is in the way): fails for root too."""
    blocker = root / "blocker"
    blocker.write_text("a file, not a folder\n")
    return blocker / "ledger.db"


@pytest.fixture
def undo():
    """Callables run after the test (unfreeze files, stop lock holders), so that pytest can clean up."""
    steps: list = []
    yield steps
    for step in reversed(steps):
        step()


def valid_ledger(path: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-c", f"from flowledger.plugin_api import Recorder; Recorder({str(path)!r}).close()"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return path


def locked(root: Path, undo: list) -> Path:
    """A ledger whose write lock another process holds for longer than the plugin waits (WAIT)."""
    path = valid_ledger(root / "locked.db")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(600)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    undo.append(holder.kill)
    assert holder.stdout.readline().strip() == "locked"
    return path


def read_only(root: Path, undo: list) -> Path:
    """A valid ledger that cannot be written: chmod for users, the immutable flag for root."""
    folder = root / "ro"
    folder.mkdir()
    path = valid_ledger(folder / "ledger.db")
    if os.geteuid() != 0:
        path.chmod(0o444)
        folder.chmod(0o555)
        return path
    for target in (path, folder):
        done = subprocess.run(["chattr", "+i", str(target)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot make a read-only ledger as root here (chattr +i: {done.stderr.strip()})")
        undo.append(lambda target=target: subprocess.run(["chattr", "-i", str(target)], capture_output=True))
    return path


@pytest.mark.parametrize("major", [9, 8], ids=["snakemake9", "snakemake8"])
@pytest.mark.parametrize("broken", [healthy, corrupt, unwritable, read_only, locked], ids=lambda f: f.__name__)
def test_broken_ledger_changes_nothing_but_one_warning(major, broken, tmp_path, undo, open_ledger):
    """(`healthy`: the same comparison with a ledger that works, and no warning at all; and with
    --keep-going, the jobs that do not depend on the failed one are recorded as completed.)"""
    sm = snakemake_for(major)
    ledger = broken(tmp_path, undo) if broken in (read_only, locked) else broken(tmp_path)
    plain = new_workflow(tmp_path / "plain")
    recorded = new_workflow(tmp_path / "recorded")
    args = (*TARGETS, "--keep-going")  # one job fails: Snakemake's own exit status is 1

    without = sm.run(plain, *args, record=False, env=clean_env())
    with_plugin = sm.run(
        recorded,
        *args,
        env=clean_env(
            FLOWLEDGER_DB=str(ledger),
            SNAKEMAKE_LOGGER_FLOWLEDGER_WAIT=str(WAIT),
            SNAKEMAKE_LOGGER_FLOWLEDGER_NAME="keep-going",
        ),
    )

    assert without.returncode == 1
    assert with_plugin.returncode == without.returncode, with_plugin.stderr
    folders = ("results", "logs")
    assert tree_digest(recorded, *folders) == tree_digest(plain, *folders)
    assert tree_digest(recorded, *folders)  # it did make things
    assert tree_digest(recorded, "benchmarks").keys() == tree_digest(plain, "benchmarks").keys()  # timings vary
    warnings = [line for line in with_plugin.stderr.splitlines() if "WARNING: flowledger" in line]
    if broken is healthy:
        assert warnings == []
        check_keep_going_recorded(open_ledger(ledger), recorded)
        return
    assert len(warnings) == 1, with_plugin.stderr
    assert "the workflow is not affected" in warnings[0] or "the pipeline is not affected" in warnings[0]
    if broken is locked:
        assert "gave up waiting" in warnings[0]
    if broken is corrupt:
        assert ledger.read_bytes().startswith(b"this is not an SQLite database")


def check_keep_going_recorded(fl, workdir: Path) -> None:
    (workflow,) = fl.Run.filter(reference_type="snakemake_id").all()
    assert workflow.transform.name == "keep-going"  # the name setting, as an environment variable
    assert workflow.status == "errored"
    jobs = {
        (r.transform.name, r.json["wildcards"].get("sample")): r for r in fl.Run.filter(initiated_by_run=workflow).all()
    }
    assert set(jobs) == {
        ("prep_fail", None),
        ("fail_shell", None),
        *((rule, sample) for rule in ("make_raw", "split", "stats") for sample in "AB"),
    }
    failed = jobs.pop(("fail_shell", None))
    assert failed.status == "errored" and failed.exit_code == 3
    assert {r.status for r in jobs.values()} == {"completed"}
    for sample in "AB":
        made = fl.Artifact.filter(path=str(workdir / f"results/stats/{sample}.json")).one()
        assert made.run == jobs[("stats", sample)]
