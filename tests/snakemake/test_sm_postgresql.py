"""Real Snakemake recording into a ledger on a PostgreSQL server (issue 11): Snakemake 9 given the URL with
`--logger-flowledger-db`, Snakemake 8 with `--log-handler-script` and `SNAKEMAKE_LOGGER_FLOWLEDGER_DB`.
What a user reads back (through the public API and `flowledger --db URL lineage`) is the same lineage as
on SQLite: the report's ancestors reach the raw inputs through the right jobs, and each invocation is one
workflow run with its job runs, statuses and references."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from postgres_server import read_ledger
from snakemake_support import clean_env, new_workflow, sha256, snakemake_for

pytestmark = pytest.mark.slow

RAW_INPUTS = {"data/A.txt", "data/B.txt", "data/C.txt", "data/ref.txt"}
MAKERS = ["make_raw"] * 3 + ["split"] * 3 + ["stats"] * 3 + ["report"]


def snakemake_into(major: int, workdir: Path, url: str, decoy: Path, *args: str) -> subprocess.CompletedProcess:
    """Snakemake `major` in `workdir`, recording into `url` by the plugin's own setting (FLOWLEDGER_DB names a
    decoy file that must never be created)."""
    sm = snakemake_for(major)
    env = clean_env(FLOWLEDGER_DB=str(decoy))
    if major < 9:
        env["SNAKEMAKE_LOGGER_FLOWLEDGER_DB"] = url
        if subprocess.run([str(sm.executable.with_name("python")), "-c", "import psycopg"], env=env).returncode:
            reason = f"no psycopg next to {sm.executable}: install tests/snakemake/requirements-sm8.txt there"
            pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    return sm.run(workdir, *args, db=url if major >= 9 else None, env=env)


def rel(workdir: Path, path: str) -> str:
    return str(Path(path).relative_to(workdir))


@pytest.mark.parametrize("major", [9, 8], ids=["snakemake9", "snakemake8"])
def test_snakemake_records_into_postgresql(major, tmp_path, server_ledger, monkeypatch):
    workdir = new_workflow(tmp_path / "project")
    decoy = tmp_path / "decoy" / "ledger.db"
    done = snakemake_into(major, workdir, server_ledger, decoy)
    assert done.returncode == 0, done.stderr
    failed = snakemake_into(
        major, workdir, server_ledger, decoy, "results/fail/shell.txt", "results/fail/run.txt", "--keep-going"
    )
    assert failed.returncode == 1
    for step in (done, failed):
        assert "WARNING: flowledger" not in step.stderr, step.stderr
    assert not decoy.exists()  # the plugin's setting won over FLOWLEDGER_DB

    fl = read_ledger(monkeypatch, server_ledger)
    first, second = fl.Run.filter(reference_type="snakemake_id").order_by("id").all()
    assert (first.status, second.status) == ("completed", "errored")
    assert first.transform.type == "pipeline" and first.transform.name == "project"
    assert first.json["snakemake_version"].startswith(f"{major}.")

    # the workflow run's job runs: every job of the invocation, referenced under the workflow's reference
    jobs = fl.Run.filter(initiated_by_run=first).order_by("id").all()
    assert sorted(j.transform.name for j in jobs) == sorted([*MAKERS, "all"])
    assert {j.status for j in jobs} == {"completed"}
    assert {j.reference_type for j in jobs} == {"snakemake_job"}
    assert all(j.reference == f"{first.reference}/{j.json['jobid']}" for j in jobs)
    assert first.json["job_counts"] == {"completed": 11, "errored": 0, "aborted": 0}

    # the report's lineage: made by `report`, back through stats, split and make_raw to the raw inputs
    report = fl.Artifact.filter(path=str(workdir / "results/report.txt")).one()
    assert report.hash == sha256(workdir / "results/report.txt")
    assert report.run.transform.name == "report" and report.run.initiated_by_run == first
    graph = fl.lineage.ancestors(report)
    assert sorted(r.transform.name for r in graph.runs.values()) == sorted(MAKERS)
    assert {r.initiated_by_run.id for r in graph.runs.values()} == {first.id}
    raw = {rel(workdir, a.path) for a in graph.artifacts.values() if a.run is None}
    assert raw == RAW_INPUTS
    raw_b = fl.Artifact.filter(path=str(workdir / "data/B.txt")).one()
    make_raw_b = fl.Artifact.filter(path=str(workdir / "results/raw/B.upper.txt")).one().run
    assert make_raw_b.transform.name == "make_raw" and [a.id for a in make_raw_b.inputs.all()] == [raw_b.id]

    # the failed invocation: its failing jobs errored with Snakemake's exit codes, the others completed
    statuses = {j.transform.name: (j.status, j.exit_code) for j in fl.Run.filter(initiated_by_run=second).all()}
    assert statuses == {"prep_fail": ("completed", None), "fail_shell": ("errored", 3), "fail_run": ("errored", 1)}
    assert "At least one job did not complete successfully" in second.error
    assert fl.Artifact.filter(path=str(workdir / "results/fail/shell.txt")).one_or_none() is None

    # the same lineage through the command line, with the URL as --db
    flowledger = str(Path(sys.executable).with_name("flowledger"))
    shown = subprocess.run(
        [flowledger, "--db", server_ledger, "lineage", "--json", "results/report.txt"],
        cwd=workdir,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert sorted(r["transform"] for r in data["runs"]) == sorted(MAKERS)
    assert {r["initiated_by_run"] for r in data["runs"]} == {first.uid}
    assert {rel(workdir, a["path"]) for a in data["artifacts"] if a["run"] is None} == RAW_INPUTS
    assert {a["on_disk"] for a in data["artifacts"]} == {"unchanged"}
