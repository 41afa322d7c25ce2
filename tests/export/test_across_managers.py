"""A file made by a Snakemake rule, read by a redun task, then by a tracked script: one export holds the
whole chain in every format, each run naming its own workflow manager. Each step runs for real, in its
own process, with live OpenLineage (the file transport) on: every plugin's recorder sends its events."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import flowledger as fl
import pytest
from crate_check import validate
from flowledger.exporting import export
from ol_schema import run_event_errors
from prov.model import ProvDocument

CHAIN = Path(__file__).parent / "data" / "chain"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """The project after the three steps: (folder, ledger, live events)."""
    root = tmp_path_factory.mktemp("chain")
    project, ledger, events = root / "project", root / "ledger.db", root / "ol-events.jsonl"
    shutil.copytree(CHAIN, project)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENLINEAGE", "FLOWLEDGER_DB"))}
    env.update(
        FLOWLEDGER_DB=str(ledger),
        HOME=str(root),
        OPENLINEAGE__TRANSPORT__TYPE="file",
        OPENLINEAGE__TRANSPORT__LOG_FILE_PATH=str(events),
        OPENLINEAGE__TRANSPORT__APPEND="true",
    )
    steps = [
        [str(BIN / "snakemake"), "--cores", "1", "--scheduler", "greedy", "--logger", "flowledger"],
        [sys.executable, "count_words.py", "results/upper.txt", "results/counts.tsv"],
        [sys.executable, "report.py"],
    ]
    for step in steps:
        done = subprocess.run(step, cwd=project, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{step}: {done.stderr[-3000:]}"
    return project, ledger, events


@pytest.fixture
def report(chain, monkeypatch):
    from flowledger.store import forget_ledgers

    monkeypatch.setenv("FLOWLEDGER_DB", str(chain[1]))
    forget_ledgers()
    yield str(chain[0] / "results" / "report.txt")
    forget_ledgers()


@pytest.mark.slow
def test_openlineage_holds_the_chain_and_each_manager(report, chain):
    events = [json.loads(line) for line in export(report, "openlineage").splitlines()]
    assert all(run_event_errors(e) == [] for e in events)
    engines = {e["run"]["facets"]["processing_engine"]["name"] for e in events}
    assert engines == {"snakemake", "redun", "python"}
    by_job = {e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE"}
    assert by_job["report.py"]["job"]["namespace"].startswith("python://")
    assert by_job["fl_export.main.fl_export.count"]["run"]["facets"]["parent"]["job"]["name"] == "fl_export.main"
    upper = next(name for name in by_job if name.endswith(".upper"))
    made = {o["name"] for o in by_job[upper]["outputs"]}
    read = {i["name"] for i in by_job["fl_export.main.fl_export.count"]["inputs"]}
    assert str(chain[0] / "results/upper.txt") in made & read  # Snakemake's output is redun's input
    assert by_job["report.py"]["inputs"][0]["name"] == str(chain[0] / "results/counts.tsv")
    snakemake_version = by_job[upper]["run"]["facets"]["processing_engine"]["version"]
    assert snakemake_version.split(".")[0] == "9"
    live = [json.loads(line) for line in chain[2].read_text().splitlines()]
    assert {e["run"]["facets"]["processing_engine"]["name"] for e in live} == {"snakemake", "redun", "python"}
    assert all(run_event_errors(e) == [] for e in live)
    assert {e["run"]["runId"] for e in events} <= {e["run"]["runId"] for e in live}  # live and export agree


@pytest.mark.slow
def test_prov_holds_the_chain_and_each_manager(report):
    doc = ProvDocument.deserialize(content=export(report, "prov-json"))
    agents = {str(r.identifier) for r in doc.get_records() if r.get_type().localpart == "Agent"}
    assert {a.split("/")[1].split("-")[0] for a in agents if a.startswith("fl:software/")} == {
        "snakemake",
        "redun",
        "python",
    }
    assert ProvDocument.deserialize(content=export(report, "prov-n"), format="provn") == doc


@pytest.mark.slow
def test_rocrate_holds_the_chain_and_validates(report, tmp_path, contexts):
    folder = tmp_path / "crate"
    export(report, "rocrate", folder, with_files=True)
    entities = {e["@id"]: e for e in json.loads((folder / "ro-crate-metadata.json").read_text())["@graph"]}
    workflows = [e for e in entities.values() if "ComputationalWorkflow" in e["@type"]]
    assert len(workflows) == 2  # Snakemake's and redun's; the script is a program that read redun's output
    assert entities[entities["./"]["mainEntity"]["@id"]]["name"] == "fl_export.main"  # the last workflow
    [script] = [e for e in entities.values() if e.get("name") == "report.py"]
    assert script["@type"] == ["File", "SoftwareSourceCode", "SoftwareApplication"]
    assert "fl.track()" in (folder / script["@id"]).read_text()
    engines = {e["name"] for e in entities.values() if e["@type"] == "OrganizeAction"}
    assert len(engines) == 2 and any("Snakemake" in n for n in engines) and any("redun" in n for n in engines)
    assert (folder / "files/results/report.txt").exists()
    report_ = validate(folder, contexts)
    assert report_["passed"], report_["issues"]


@pytest.mark.slow
def test_the_cli_exports_the_chain_in_every_format(report, tmp_path):
    for fmt in ("openlineage", "prov-json", "prov-n", "prov-o", "rocrate"):
        out = tmp_path / f"chain.{fmt}"
        done = subprocess.run(
            [str(BIN / "flowledger"), "export", report, "--format", fmt, "-o", str(out)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert out.exists()
    assert len(fl.exporting.gather(report).runs) == 5  # Snakemake run + rule job, redun run + task job, the script
