"""Lineage that leaves nothing out: files deleted before their reader is recorded, and symlinked folders."""

import json
import subprocess
import sys

import flowledger as fl
from flowledger.plugin_api import Recorder, TransformSpec


def lineage(path, *args):
    return subprocess.run(
        [sys.executable, "-m", "flowledger", "lineage", str(path), *args], capture_output=True, text=True, check=True
    ).stdout


def test_a_temp_file_deleted_before_its_reader_is_recorded_stays_in_the_lineage(tmp_path):
    """upper -> {x.up, temp(x.rev)} -> combine -> x.both: the deleted x.rev is a node, and lineage passes it."""
    raw, up, rev, both = (tmp_path / name for name in ("x.txt", "x.up", "x.rev", "x.both"))
    raw.write_text("abc\n")
    up.write_text("ABC\n")
    rev.write_text("cba\n")
    recorder = Recorder()
    recorder.record_job(TransformSpec("upper", type="rule"), inputs=[raw], outputs=[up, rev])
    both.write_text(up.read_text() + rev.read_text())
    rev.unlink()  # Snakemake deletes a temp() output once its consumers are done
    combine = recorder.record_job(TransformSpec("combine", type="rule"), inputs=[up, rev], outputs=[both])

    made = fl.Artifact.filter(path=str(rev)).one()
    assert (made.state, made.run.transform.name) == ("deleted", "upper")  # hashed while it existed
    assert made.hash and made in fl.Run.get(combine).inputs.all()
    graph = json.loads(lineage(both, "--json"))
    by_path = {a["path"]: a for a in graph["artifacts"]}
    assert by_path[str(rev)]["state"] == "deleted" and by_path[str(raw)]["state"] == "present"
    assert str(raw) in by_path  # lineage went through the deleted file back to the raw input
    assert f"{rev} (sha256:" in lineage(both) and ", deleted)" in lineage(both)
    assert "deleted" in lineage(both, "--format", "dot") and "deleted" in lineage(both, "--format", "mermaid")


def test_a_file_gone_with_nothing_known_of_it_is_a_node_when_the_job_completed(tmp_path):
    """A completed job's files existed (a pipe, a cleaned work dir): each is a `deleted` node without a hash,
    linking its maker to its readers. A failed job's may never have existed: they are listed as missing."""
    recorder = Recorder()
    pipe = tmp_path / "x.pipe"
    made = recorder.record_job(TransformSpec("produce"), outputs=[pipe])
    (tmp_path / "x.out").write_text("out")
    read = recorder.record_job(TransformSpec("consume"), inputs=[pipe], outputs=[tmp_path / "x.out"])
    node = fl.Artifact.get(path=str(pipe))
    assert (node.state, node.hash, node.run.uid) == ("deleted", None, made)
    assert list(fl.Run.get(read).inputs) == [node] and "missing_inputs" not in fl.Run.get(read).json
    ancestors = fl.lineage.ancestors(fl.Artifact.get(path=str(tmp_path / "x.out")))
    assert {run.uid for run in ancestors.runs.values()} == {made, read}  # one lineage, through the gone file

    failed = fl.Run.get(recorder.record_job(TransformSpec("job"), inputs=[tmp_path / "never.txt"], status="errored"))
    assert failed.inputs.count() == 0 and "never.txt: no such file or folder" in failed.json["missing_inputs"][0]


def test_one_file_one_artifact_through_a_symlinked_folder_either_way(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    (tmp_path / "in.txt").write_text("in")
    recorder = Recorder()
    for written, read in ((tmp_path / "link" / "a.txt", real / "a.txt"), (real / "b.txt", tmp_path / "link" / "b.txt")):
        written.write_text(written.name)
        maker = recorder.record_job(TransformSpec("make"), inputs=[tmp_path / "in.txt"], outputs=[written])
        (tmp_path / f"{read.name}.out").write_text("used")
        recorder.record_job(TransformSpec("use"), inputs=[read], outputs=[tmp_path / f"{read.name}.out"])
        by_link = fl.Artifact.filter(path=str(tmp_path / "link" / read.name)).one()
        assert by_link == fl.Artifact.filter(path=str(real / read.name)).one()  # found by either path
        assert by_link.path == str(real / read.name) and by_link.run.uid == maker
        graph = json.loads(lineage(tmp_path / f"{read.name}.out", "--json"))
        assert str(tmp_path / "in.txt") in {a["path"] for a in graph["artifacts"]}  # ancestors go through it
    assert fl.Artifact.filter(path=str(real / "a.txt")).one().user_path == str(tmp_path / "link" / "a.txt")
    assert fl.Artifact.filter(path__under=str(tmp_path / "link")).count() == 2
