"""Workflow Run RO-Crates: valid Provenance Run Crates (roc-validator, REQUIRED checks, offline)."""

import json
import zipfile

import pytest
from crate_check import validate
from flowledger.exporting import export


def graph(folder) -> dict:
    return {e["@id"]: e for e in json.loads((folder / "ro-crate-metadata.json").read_text())["@graph"]}


def of_type(entities: dict, kind: str) -> list[dict]:
    return [e for e in entities.values() if kind in ([e["@type"]] if isinstance(e["@type"], str) else e["@type"])]


@pytest.mark.slow
@pytest.mark.parametrize("with_files", [False, True], ids=["detached", "attached"])
def test_crates_pass_the_provenance_run_crate_profile(sample, tmp_path, contexts, with_files):
    folder = tmp_path / "crate"
    export(sample.workflow, "rocrate", folder, with_files=with_files)
    report = validate(folder, contexts)
    assert report["passed"], report["issues"]
    assert report["statistics"]["total_checks_by_severity"]["REQUIRED"] >= 85
    assert "provenance-run-crate-0.5" in report["statistics"]["profiles"]


def test_the_crate_follows_the_reference_mapping(sample, tmp_path):
    folder = tmp_path / "crate"
    export(sample.workflow, "rocrate", folder)
    entities = graph(folder)
    root = entities["./"]
    workflow = entities[root["mainEntity"]["@id"]]
    assert workflow["@type"] == ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"]
    assert (folder / workflow["@id"]).read_text().startswith("rule upper:")
    assert workflow["programmingLanguage"]["@id"].endswith("#snakemake")
    actions = of_type(entities, "CreateAction")
    assert len(actions) == 5 and {a["@id"] for a in actions} == {m["@id"] for m in root["mentions"]}
    assert len(of_type(entities, "ControlAction")) == 4 and len(of_type(entities, "HowToStep")) == 1
    [organize] = of_type(entities, "OrganizeAction")
    assert entities[organize["instrument"]["@id"]] == {
        **entities[organize["instrument"]["@id"]],
        "name": "Snakemake",
        "softwareVersion": "9.27.1",
    }
    status = {a["description"].split("=")[-1].split(" ")[0]: a["actionStatus"].rsplit("/", 1)[1] for a in actions}
    assert status["2f1c0c9e-wf/2"] == "FailedActionStatus" and status["2f1c0c9e-wf/4"] == "ActiveActionStatus"
    done = next(a for a in actions if a["description"] == "snakemake_job=2f1c0c9e-wf/1")
    assert [o["@id"] for o in done["object"]] == [sample.files["a"].as_uri()]  # metadata only: absolute file:// URIs
    assert not (folder / "files").exists()


def test_with_files_copies_the_data_in_and_zips(sample, tmp_path):
    folder = tmp_path / "crate"
    export(sample.workflow, "rocrate", folder, with_files=True)
    copied = {p.relative_to(folder).as_posix() for p in (folder / "files").rglob("*") if p.is_file()}
    assert copied == {"files/data/a.txt", "files/data/b.txt", "files/results/a.txt", "files/logs/upper_a.log"}
    assert graph(folder)["files/results/a.txt"]["sha256"]
    export(sample.workflow, "rocrate", tmp_path / "crate.zip", with_files=True)
    with zipfile.ZipFile(tmp_path / "crate.zip") as packed:
        assert "ro-crate-metadata.json" in packed.namelist() and "files/data/a.txt" in packed.namelist()
