"""The `flowledger` command: init, runs, show, lineage, artifacts, and one-line errors."""

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from flowledger.cli import cli
from flowledger.plugin_api import Recorder, TransformSpec

pytestmark = pytest.mark.usefixtures("any_store")  # each test on SQLite, then on PostgreSQL


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "raw.txt").write_text("raw\n")
    (tmp_path / "clean.txt").write_text("clean\n")
    (tmp_path / "report.txt").write_text("report\n")
    recorder = Recorder()
    workflow = recorder.start_run(
        TransformSpec(name="demo", version="1.0"), reference="wf-42", reference_type="snakemake_id"
    )
    clean = recorder.record_job(
        TransformSpec(name="clean", type="rule", source_code="tr a-z A-Z"),
        inputs=["raw.txt"],
        outputs=["clean.txt"],
        initiated_by=workflow,
    )
    report = recorder.record_job(
        TransformSpec(name="report", type="rule", source_code="wc"),
        inputs=["clean.txt"],
        outputs=["report.txt"],
        initiated_by=workflow,
        status="errored",
        exit_code=2,
        error="wc failed",
    )
    recorder.finish_run(workflow, status="errored")
    return {"workflow": workflow, "clean": clean, "report": report}


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_init_creates_a_project_ledger_found_from_subfolders(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOWLEDGER_DB")
    monkeypatch.chdir(tmp_path)
    result = invoke("init")
    assert result.exit_code == 0 and (tmp_path / ".flowledger" / "ledger.db").exists()
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert invoke("runs", "--json").output.strip() == "[]"


def test_runs_lists_workflow_runs_and_filters(recorded):
    rows = json.loads(invoke("runs", "--json").output)
    assert [r["uid"] for r in rows] == [recorded["workflow"]]
    assert rows[0]["reference"] == "wf-42" and rows[0]["status"] == "errored"
    jobs = json.loads(invoke("runs", "--all", "--json").output)
    assert len(jobs) == 3
    errored = json.loads(invoke("runs", "--all", "--status", "errored", "--transform", "report", "--json").output)
    assert [r["uid"] for r in errored] == [recorded["report"]]
    by_type = json.loads(invoke("runs", "--reference-type", "snakemake_id", "--json").output)
    assert len(by_type) == 1
    table = invoke("runs").output
    assert recorded["workflow"][:6] in table


def test_show_gives_fields_files_and_related_runs(recorded, tmp_path):
    data = json.loads(invoke("show", recorded["report"], "--json").output)
    assert data["status"] == "errored" and data["exit_code"] == 2 and data["error"] == "wc failed"
    assert [a["path"] for a in data["inputs"]] == [str(tmp_path / "clean.txt")]
    assert data["initiated_by_run"] == recorded["workflow"]
    parent = json.loads(invoke("show", recorded["workflow"][:10], "--json").output)
    assert {c["uid"] for c in parent["children"]} == {recorded["clean"], recorded["report"]}
    text = invoke("show", recorded["clean"]).output
    assert "clean.txt" in text and "raw.txt" in text


def test_lineage_tree_json_dot_and_mermaid(recorded, tmp_path):
    tree = invoke("lineage", "report.txt").output
    assert tree.index("report.txt") < tree.index("rule report") < tree.index("clean.txt") < tree.index("raw.txt")
    data = json.loads(invoke("lineage", "report.txt", "--json").output)
    assert {r["transform"] for r in data["runs"]} == {"clean", "report"}
    assert "digraph lineage" in invoke("lineage", "report.txt", "--format", "dot").output
    assert invoke("lineage", "report.txt", "--format", "mermaid").output.startswith("flowchart LR")
    down = json.loads(invoke("lineage", "raw.txt", "--downstream", "--json").output)
    assert {a["path"] for a in down["artifacts"]} == {str(tmp_path / p) for p in ("raw.txt", "clean.txt", "report.txt")}


def test_artifacts_lists_latest_versions(recorded, tmp_path):
    rows = json.loads(invoke("artifacts", "--json").output)
    assert {r["path"] for r in rows} == {str(tmp_path / p) for p in ("raw.txt", "clean.txt", "report.txt")}
    assert next(r for r in rows if r["path"].endswith("raw.txt"))["run"] is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["show", "nosuchuid"], "Error: no run with uid 'nosuchuid'"),
        (["lineage", "never.txt"], "never.txt was never recorded in"),
    ],
)
def test_errors_are_one_line(recorded, args, message):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def flowledger(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "flowledger", *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


def test_no_ledger_and_corrupt_ledger_errors(tmp_path):
    missing = flowledger("--db", str(tmp_path / "none.db"), "runs")
    assert missing.returncode == 1
    expected = f"Error: no ledger at {tmp_path / 'none.db'}: record a run first, or run `flowledger init`\n"
    assert missing.stderr == expected
    bad = tmp_path / "bad.db"
    bad.write_text("not a database" * 50)
    corrupt = flowledger("--db", str(bad), "runs")
    assert corrupt.returncode == 1 and "Traceback" not in corrupt.stderr
    assert corrupt.stderr.startswith(f"Error: ledger {bad} is corrupt or not a flowledger ledger")


def test_db_option_wins_over_the_environment(tmp_path):
    flowledger("--db", str(tmp_path / "chosen.db"), "init")
    assert (tmp_path / "chosen.db").exists()
