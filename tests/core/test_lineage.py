"""Lineage: from a result back to the raw inputs, and everything downstream of an input."""

import flowledger as fl
from flowledger.plugin_api import Recorder, TransformSpec


def build_chain(tmp_path):
    """raw.txt -> trim -> trimmed.txt -> count -> counts.txt; ref.txt -> count; counts.txt -> report."""
    recorder = Recorder()
    workflow = recorder.start_run(TransformSpec(name="demo"), reference="wf-1", reference_type="snakemake_id")
    files = {}
    for name, text in {"raw.txt": "ACGT\n", "ref.txt": "REF\n"}.items():
        files[name] = tmp_path / name
        files[name].write_text(text)
    steps = [
        ("trim", ["raw.txt"], "trimmed.txt"),
        ("count", ["trimmed.txt", "ref.txt"], "counts.txt"),
        ("report", ["counts.txt"], "report.txt"),
    ]
    jobs = {}
    for rule, inputs, output in steps:
        (tmp_path / output).write_text(f"{rule}\n")
        jobs[rule] = recorder.record_job(
            TransformSpec(name=rule, type="rule", source_code=rule),
            inputs=[tmp_path / i for i in inputs],
            outputs=[tmp_path / output],
            initiated_by=workflow,
        )
    recorder.finish_run(workflow)
    return jobs


def test_ancestors_reach_the_raw_inputs(tmp_path):
    jobs = build_chain(tmp_path)
    graph = fl.lineage.ancestors(fl.Artifact.filter(path=str(tmp_path / "report.txt")).one())
    assert {r.uid for r in graph.runs.values()} == set(jobs.values())
    paths = {a.path for a in graph.artifacts.values()}
    assert paths == {str(tmp_path / p) for p in ("raw.txt", "ref.txt", "trimmed.txt", "counts.txt", "report.txt")}
    raw = [a for a in graph.artifacts.values() if a.run_id is None]
    assert sorted(a.path for a in raw) == [str(tmp_path / "raw.txt"), str(tmp_path / "ref.txt")]
    assert len(graph.edges) == 3 + 4  # one per output, one per input


def test_descendants_of_an_input(tmp_path):
    jobs = build_chain(tmp_path)
    graph = fl.lineage.descendants(fl.Artifact.filter(path=str(tmp_path / "ref.txt")).one())
    assert {r.uid for r in graph.runs.values()} == {jobs["count"], jobs["report"]}
    assert str(tmp_path / "trimmed.txt") not in {a.path for a in graph.artifacts.values()}


def test_lineage_as_json_names_transforms_and_parent_runs(tmp_path):
    jobs = build_chain(tmp_path)
    data = fl.lineage.to_dict(fl.lineage.ancestors(fl.Artifact.filter(path=str(tmp_path / "counts.txt")).one()))
    assert {r["transform"] for r in data["runs"]} == {"trim", "count"}
    assert all(r["initiated_by_run"] for r in data["runs"])
    assert data["root"] == fl.Artifact.filter(path=str(tmp_path / "counts.txt")).one().uid
    assert {"from": jobs["count"], "to": data["root"]} in data["edges"]


def test_lineage_is_one_recursive_query(tmp_path, monkeypatch):
    build_chain(tmp_path)
    artifact = fl.Artifact.filter(path=str(tmp_path / "report.txt")).one()
    statements = []
    artifact._store.conn.set_trace_callback(statements.append)
    try:
        fl.lineage.ancestors(artifact)
    finally:
        artifact._store.conn.set_trace_callback(None)
    assert sum("WITH RECURSIVE" in s for s in statements) == 1
    assert len(statements) < 10  # the walk itself is not a Python loop over rows
