"""Lineage: from a result back to the raw inputs, and everything downstream of an input."""

import json

import flowledger as fl
import pytest
from click.testing import CliRunner
from flowledger import render, verify
from flowledger.cli import cli
from flowledger.errors import InputError
from flowledger.plugin_api import Recorder, TransformSpec

pytestmark = pytest.mark.usefixtures("any_store")  # each test on SQLite, then on PostgreSQL


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


# ---- re-runs, content lookup, versions, and the state of the files on disk -----------------------------
def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def rerun_the_trim(tmp_path):
    """build_chain, then a second workflow whose trim is a cache hit: it reproduced trimmed.txt."""
    jobs = build_chain(tmp_path)
    recorder = Recorder()
    again = recorder.start_run(TransformSpec(name="demo"), reference="wf-2", reference_type="snakemake_id")
    jobs["cached"] = recorder.record_job(
        TransformSpec(name="trim", type="rule", source_code="trim"),
        inputs=[tmp_path / "raw.txt"],
        outputs=[tmp_path / "trimmed.txt"],
        initiated_by=again,
        status="cached",
    )
    recorder.finish_run(again)
    return jobs


def test_a_rerun_that_reproduced_a_file_is_in_the_graph(tmp_path):
    jobs = rerun_the_trim(tmp_path)
    trimmed = fl.Artifact.filter(path=str(tmp_path / "trimmed.txt")).one()
    up = fl.lineage.ancestors(fl.Artifact.filter(path=str(tmp_path / "report.txt")).one())
    assert [r.uid for r in up.replicated_by(trimmed.id)] == [jobs["cached"]]
    data = fl.lineage.to_dict(up)
    assert next(a for a in data["artifacts"] if a["uid"] == trimmed.uid)["replicated_by"] == [jobs["cached"]]
    assert {"run": jobs["cached"], "artifact": trimmed.uid} in data["replications"]
    text = render.tree_text(up)
    assert f"reproduced by rule trim [cached] run {jobs['cached']}" in text
    down = fl.lineage.descendants(fl.Artifact.filter(path=str(tmp_path / "raw.txt")).one())
    assert down.is_replication(fl.Run.get(jobs["cached"]).id, trimmed.id)
    tree = render.tree_text(down, upstream=False).splitlines()
    cached = next(i for i, line in enumerate(tree) if "[cached]" in line)
    assert "trimmed.txt" in tree[cached + 1] and "(reproduced: the same bytes as run" in tree[cached + 1]


def test_find_by_content_finds_a_copy_anywhere(tmp_path):
    build_chain(tmp_path)
    elsewhere = tmp_path / "moved"
    elsewhere.mkdir()
    copy = elsewhere / "counts-copy.txt"
    copy.write_text((tmp_path / "counts.txt").read_text())
    (found, *_) = fl.lineage.find_by_content(copy)
    assert found.path == str(tmp_path / "counts.txt") and found.run.transform.name == "count"
    (elsewhere / "raw-copy.txt").write_text("ACGT\n")
    assert [a.path for a in fl.lineage.find_by_content(elsewhere / "raw-copy.txt")] == [str(tmp_path / "raw.txt")]
    (elsewhere / "new.txt").write_text("never seen\n")
    assert fl.lineage.find_by_content(elsewhere / "new.txt") == []
    with pytest.raises(InputError):
        fl.lineage.find_by_content(elsewhere / "nothing.txt")


def test_lineage_of_a_copy_says_where_its_content_was_recorded(tmp_path, monkeypatch):
    jobs = build_chain(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "download.txt").write_text((tmp_path / "counts.txt").read_text())
    result = invoke("lineage", "download.txt")
    assert result.exit_code == 0, result.output
    first, *tree = result.output.splitlines()
    assert first.startswith(f"download.txt was never recorded at this path: same content as {tmp_path}/counts.txt v1")
    assert f"made by run {jobs['count']} (rule count)" in first
    assert tree[0].startswith("counts.txt (sha256:") and "rule count" in tree[1]
    data = json.loads(invoke("lineage", "download.txt", "--json").output)
    assert data["found_by_content"]["path"] == str(tmp_path / "download.txt")
    assert data["root"] == data["found_by_content"]["artifacts"][0]
    (tmp_path / "unknown.txt").write_text("nobody made this\n")
    unknown = invoke("lineage", "unknown.txt")
    assert unknown.exit_code == 1 and "unknown.txt was never recorded in" in unknown.output
    assert "no recorded file has its content" in unknown.output and len(unknown.output.splitlines()) == 1


def test_lineage_of_an_old_version_or_an_artifact_uid(tmp_path, monkeypatch):
    jobs = build_chain(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "report.txt").write_text("report, second version\n")
    second = Recorder().record_job(
        TransformSpec(name="report", type="rule", source_code="report"), inputs=["trimmed.txt"], outputs=["report.txt"]
    )
    old = json.loads(invoke("lineage", "report.txt@v1", "--json").output)
    new = json.loads(invoke("lineage", "report.txt", "--json").output)
    assert {r["uid"] for r in old["runs"]} == set(jobs.values())
    assert {r["uid"] for r in new["runs"]} == {second, jobs["trim"]}
    first = fl.Artifact.filter(path=str(tmp_path / "report.txt"), version=1).one()
    assert json.loads(invoke("lineage", first.uid, "--json").output)["root"] == first.uid
    versions = invoke("lineage", first.uid[:10])
    assert (
        versions.exit_code == 1
        and "versions of" in versions.output
        and "give the whole uid, or PATH@vN" in versions.output
    )
    raw = fl.Artifact.filter(path=str(tmp_path / "raw.txt")).one()
    assert json.loads(invoke("lineage", raw.uid[:10], "--json").output)["root"] == raw.uid  # a unique prefix
    wrong = invoke("lineage", "report.txt@v7")
    assert wrong.exit_code == 1 and "has versions 1 to 2" in wrong.output


def test_changed_and_missing_files_are_marked_everywhere(tmp_path, monkeypatch):
    build_chain(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "trimmed.txt").write_text("edited by hand\n")
    (tmp_path / "ref.txt").unlink()
    tree = invoke("lineage", "report.txt").output
    assert "trimmed.txt (sha256:" in tree and ", changed on disk: sha256:" in tree
    assert "ref.txt (sha256:" in tree and ", missing on disk)" in tree
    data = json.loads(invoke("lineage", "report.txt", "--json").output)
    on_disk = {a["path"].rsplit("/", 1)[1]: a["on_disk"] for a in data["artifacts"]}
    assert on_disk == {"report.txt": "unchanged", "counts.txt": "unchanged", "trimmed.txt": "changed",
                       "raw.txt": "unchanged", "ref.txt": "missing"}  # fmt: skip
    unchecked = json.loads(invoke("lineage", "report.txt", "--json", "--no-check").output)
    assert {a["on_disk"] for a in unchecked["artifacts"]} == {None}
    dot = invoke("lineage", "report.txt", "--format", "dot").output
    assert 'label="trimmed.txt\\nchanged"' in dot and 'label="ref.txt\\nmissing"' in dot
    assert "#ffe8a3" in dot and "dashed" in dot  # coloured by status
    mermaid = invoke("lineage", "report.txt", "--format", "mermaid").output
    assert ":::changed" in mermaid and ":::missing" in mermaid and "classDef missing" in mermaid


def test_dot_and_mermaid_labels_are_short_and_details_elsewhere(tmp_path):
    jobs = build_chain(tmp_path)
    graph = fl.lineage.ancestors(fl.Artifact.filter(path=str(tmp_path / "report.txt")).one())
    dot = render.dot(graph)
    assert 'label="report.txt"' in dot and 'label="rule count"' in dot
    assert f"run {jobs['count']}" in dot  # in a tooltip
    assert f'label="{tmp_path}' not in dot  # no full path in a label
    mermaid = render.mermaid(graph)
    assert '["report.txt"]' in mermaid and "%% r" in mermaid and str(tmp_path / "report.txt") in mermaid
    assert render.short_names(["/a/x/data.txt", "/b/y/data.txt", "/c/z.txt"]) == {
        "/a/x/data.txt": "x/data.txt",
        "/b/y/data.txt": "y/data.txt",
        "/c/z.txt": "z.txt",
    }


def test_wildcards_and_tags_in_labels(tmp_path):
    (tmp_path / "in.txt").write_text("in")
    (tmp_path / "out.txt").write_text("out")
    uid = Recorder().record_job(
        TransformSpec("align", type="rule"),
        inputs=[tmp_path / "in.txt"],
        outputs=[tmp_path / "out.txt"],
        json={"wildcards": {"sample": "A"}, "tag": "lane1"},
    )
    graph = fl.lineage.ancestors(fl.Artifact.filter(path=str(tmp_path / "out.txt")).one())
    assert "rule align sample=A (lane1) [completed]" in render.tree_text(graph)
    assert 'label="rule align\\nsample=A (lane1)"' in render.dot(graph)
    assert fl.lineage.to_dict(graph)["runs"][0]["wildcards"] == {"sample": "A"} and uid


def test_verify_check_feeds_to_dict(tmp_path):
    build_chain(tmp_path)
    (tmp_path / "counts.txt").unlink()
    graph = fl.lineage.ancestors(fl.Artifact.filter(path=str(tmp_path / "report.txt")).one())
    checked = verify.check(graph.artifacts.values(), fl.Artifact.filter().first()._store)
    data = fl.lineage.to_dict(graph, checked)  # a list works as well as a dict by id
    assert {a["path"]: a["on_disk"] for a in data["artifacts"]}[str(tmp_path / "counts.txt")] == "missing"
