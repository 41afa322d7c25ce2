"""W3C PROV exports: what is written reads back as an equal document, and holds what the ledger holds."""

import json

import flowledger as fl
import pytest
from flowledger.default_plugins import prov
from flowledger.exporting import export, gather
from prov.constants import (
    PROV_ACTIVITY,
    PROV_AGENT,
    PROV_ALTERNATE,
    PROV_ASSOCIATION,
    PROV_COMMUNICATION,
    PROV_ENTITY,
    PROV_GENERATION,
    PROV_INFLUENCE,
    PROV_USAGE,
)
from prov.model import ProvDocument


def counts(doc) -> dict:
    found = {}
    for record in doc.get_records():
        found[record.get_type()] = found.get(record.get_type(), 0) + 1
    return found


@pytest.mark.parametrize(("fmt", "options"), [("prov-json", {}), ("prov-n", {"format": "provn"})])
def test_round_trip_gives_an_equal_document(sample, fmt, options):
    text = export(sample.workflow, fmt)
    assert ProvDocument.deserialize(content=text, **options) == prov.document(gather(sample.workflow))


def test_the_document_holds_what_the_ledger_holds(sample):
    doc = ProvDocument.deserialize(content=export(sample.workflow, "prov-json"))
    workflow = fl.Run.get(sample.workflow)
    runs = [workflow, *workflow.children]
    artifacts = {a.id for run in runs for a in [*run.inputs, *run.outputs, *run.replicated_output_artifacts]}
    transforms = {run.transform.id for run in runs}
    found = counts(doc)
    assert found[PROV_ACTIVITY] == len(runs) == 5
    assert found[PROV_ENTITY] == 2 * len(artifacts) + len(transforms)  # a file, its content, and plans
    assert found[PROV_ALTERNATE] == len(artifacts)
    assert found[PROV_USAGE] == sum(run.inputs.count() for run in runs)
    assert found[PROV_GENERATION] == sum(run.outputs.count() for run in runs) == 2
    assert found[PROV_INFLUENCE] == sum(run.replicated_output_artifacts.count() for run in runs) == 1
    assert found[PROV_COMMUNICATION] == len(runs) - 1  # each job wasInformedBy the workflow run
    assert found[PROV_ASSOCIATION] == len(runs) + 1  # every run with its manager and plan, the workflow's user
    assert found[PROV_AGENT] == 2  # the user, Snakemake 9.27.1
    agents = {str(r.identifier): dict(r.attributes) for r in doc.get_records() if r.get_type() == PROV_AGENT}
    assert {str(a.get(next(k for k in a if k.localpart == "type"))) for a in agents.values()} == {
        "prov:Person",
        "prov:SoftwareAgent",
    }
    assert "fl:software/snakemake-9.27.1" in agents


def test_artifacts_are_alternates_of_their_content_and_runs_keep_their_status(sample):
    data = json.loads(export(sample.workflow, "prov-json"))
    made = fl.Artifact.filter(path=str(sample.files["upper_a"])).one()
    assert {"prov:alternate1": f"fl:artifact/{made.uid}", "prov:alternate2": f"sha256:{made.hash}"} in data[
        "alternateOf"
    ].values()
    running = data["activity"][f"fl:run/{sample.jobs['running']}"]
    assert running["fl:status"] == "started" and "prov:endTime" not in running
    assert data["activity"][f"fl:run/{sample.jobs['failed']}"]["prov:type"] == {"$": "fl:JobRun", "type": "xsd:QName"}


def test_prov_o_is_turtle_with_every_run(sample):
    import rdflib

    graph = rdflib.Graph().parse(data=export(sample.workflow, "prov-o"), format="turtle")
    activities = set(graph.subjects(rdflib.RDF.type, rdflib.URIRef("http://www.w3.org/ns/prov#Activity")))
    assert {str(a).rsplit("/", 1)[1] for a in activities} == {sample.workflow, *sample.jobs.values()}
