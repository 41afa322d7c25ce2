"""`flowledger export --format openlineage`: every event valid against the official schemas, facets too."""

import json
from collections import Counter
from pathlib import Path

import flowledger as fl
import pytest
from flowledger.default_plugins import openlineage
from flowledger.exporting import export, gather
from ol_schema import DATA, run_event_errors


def events_of(target) -> list[dict]:
    return [json.loads(line) for line in export(target, "openlineage").splitlines()]


def test_the_validator_accepts_the_reference_samples_and_catches_mistakes():
    samples = [json.loads(line) for line in (DATA / "events.jsonl").read_text().splitlines()]
    assert all(run_event_errors(event) == [] for event in samples)
    bad = json.loads(json.dumps(samples[2]))
    bad["eventType"] = "DONE"
    bad["run"]["runId"] = "not-a-uuid"
    bad["outputs"][0]["facets"]["version"].pop("datasetVersion")
    bad["run"]["facets"]["made_up"] = {"_producer": "x", "_schemaURL": "y"}
    assert len(run_event_errors(bad)) >= 4


def test_every_event_validates_with_its_facets(sample):
    events = events_of(sample.workflow)
    assert len(events) == 9  # START + end for the workflow and 3 finished jobs, START only for the running one
    for event in events:
        assert run_event_errors(event) == [], event
        assert set(event["run"]["facets"]) >= {"processing_engine", "flowledger_status", "flowledger_reference"}


def test_one_start_and_one_end_per_run(sample):
    events = events_of(sample.workflow)
    by_run = {}
    for event in events:
        by_run.setdefault(event["run"]["runId"], []).append(event["eventType"])
    assert sorted(map(tuple, by_run.values())) == sorted(
        [("START", "FAIL"), ("START", "COMPLETE"), ("START", "FAIL"), ("START", "COMPLETE"), ("START",)]
    )
    statuses = {e["run"]["facets"]["flowledger_status"]["uid"]: e for e in events if e["eventType"] != "START"}
    failed = statuses[sample.jobs["failed"]]["run"]["facets"]["errorMessage"]
    assert (
        failed["message"] == "Command 'tr' returned non-zero exit status 3." and failed["programmingLanguage"] == "bash"
    )
    cached = statuses[sample.jobs["cached"]]["run"]["facets"]["flowledger_status"]
    assert cached == {**cached, "status": "cached", "cached": True}
    running = [e for e in events if e["run"]["facets"]["flowledger_status"]["uid"] == sample.jobs["running"]]
    assert [(e["eventType"], e["run"]["facets"]["flowledger_status"]["status"]) for e in running] == [
        ("START", "started")
    ]


def test_jobs_name_their_workflow_run_manager_and_version(sample):
    events = events_of(sample.workflow)
    workflow = next(e for e in events if "parent" not in e["run"]["facets"])
    assert workflow["job"] == {**workflow["job"], "namespace": "snakemake://node1", "name": "variant-calling"}
    assert workflow["job"]["facets"]["jobType"]["jobType"] == "DAG"
    assert workflow["job"]["facets"]["sourceCode"]["sourceCode"].startswith("rule upper:")
    for event in events:
        engine = event["run"]["facets"]["processing_engine"]
        assert (engine["name"], engine["version"], engine["openlineageAdapterVersion"]) == (
            "snakemake",
            "9.27.1",
            fl.__version__,
        )
        if event is workflow or "parent" not in event["run"]["facets"]:
            continue
        parent = event["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == parent["root"]["run"]["runId"] == workflow["run"]["runId"]
        assert parent["job"] == {"namespace": "snakemake://node1", "name": "variant-calling", "facets": {}}
        assert event["job"]["name"] == "variant-calling.upper"
        assert event["job"]["facets"]["jobType"] == {
            **event["job"]["facets"]["jobType"],
            "jobType": "TASK",
            "integration": "SNAKEMAKE",
        }


def test_files_are_datasets_named_by_path_and_versioned_by_content(sample):
    done = next(
        e
        for e in events_of(sample.workflow)
        if e["eventType"] == "COMPLETE" and e["run"]["facets"]["flowledger_status"]["uid"] == sample.jobs["done"]
    )
    made = fl.Artifact.filter(path=str(sample.files["upper_a"])).one()
    output = next(d for d in done["outputs"] if d["name"] == str(sample.files["upper_a"]))
    assert output["namespace"] == f"file://{made.storage_host}" and Path(output["name"]).is_absolute()
    assert output["facets"]["version"]["datasetVersion"] == f"sha256:{made.hash}"
    assert output["facets"]["dataSource"] == {
        **output["facets"]["dataSource"],
        "name": output["namespace"],
        "uri": output["namespace"],
    }
    assert output["facets"]["lifecycleStateChange"]["lifecycleStateChange"] == "CREATE"
    assert [d["name"] for d in done["inputs"]] == [str(sample.files["a"])]


def test_exports_are_deterministic_and_equal_to_the_clients_own_serialization(sample):
    from openlineage.client.serde import Serde

    first = export(sample.workflow, "openlineage")
    assert export(sample.workflow, "openlineage") == first  # the same run ids, events, order
    data = gather(sample.workflow)
    built = openlineage.Events(data)
    memo = {}
    for run in data.runs.values():
        for event in built.of(run):
            assert openlineage.to_json(event, memo) == Serde.to_json(event)


def test_a_file_exports_its_lineage_and_a_run_still_in_progress_is_marked(sample):
    events = events_of(str(sample.files["upper_a"]))
    names = Counter((e["eventType"], e["run"]["facets"]["flowledger_status"]["uid"]) for e in events)
    assert names == Counter(
        {
            ("START", sample.workflow): 1,
            ("FAIL", sample.workflow): 1,
            ("START", sample.jobs["done"]): 1,
            ("COMPLETE", sample.jobs["done"]): 1,
        }
    )
    done = next(e for e in events if e["eventType"] == "COMPLETE")
    assert [d["name"] for d in done["outputs"]] == [str(sample.files["upper_a"])]  # only the lineage: no log


@pytest.mark.parametrize("missing", ["no-such-uid", "results/never-recorded.txt"])
def test_unknown_targets_are_one_clear_error(sample, missing):
    with pytest.raises(fl.FlowledgerError, match=r"never recorded|no run"):
        gather(missing)
