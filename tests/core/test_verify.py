"""Are my files still what the ledger says? `verify.check()` and `flowledger verify`."""

import json
import os

import flowledger as fl
import pytest
from click.testing import CliRunner
from flowledger import verify
from flowledger.cli import cli
from flowledger.plugin_api import Recorder, TransformSpec
from flowledger.plugins import pm
from flowledger.store import get_ledger
from flowledger.verify import FileState

pytestmark = pytest.mark.usefixtures("any_store")  # each test on SQLite, then on PostgreSQL


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    """raw.txt -> clean -> clean.txt, results/a.txt, results/b.txt (a workflow with one job)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    files = {name: tmp_path / name for name in ("raw.txt", "clean.txt", "results/a.txt", "results/b.txt")}
    for name, path in files.items():
        path.write_text(f"{name}\n")
    recorder = Recorder()
    workflow = recorder.start_run(TransformSpec("wf"))
    job = recorder.record_job(
        TransformSpec("clean", type="rule"),
        inputs=[files["raw.txt"]],
        outputs=[files["clean.txt"], files["results/a.txt"], files["results/b.txt"]],
        initiated_by=workflow,
    )
    recorder.finish_run(workflow)
    return {"files": files, "workflow": workflow, "job": job}


def artifact(path):
    return fl.Artifact.filter(path=str(path)).one()


def test_unchanged_changed_and_missing(recorded):
    files = recorded["files"]
    files["clean.txt"].write_text("edited\n")
    files["results/a.txt"].unlink()
    found = {c.artifact.path: c for c in verify.check([artifact(p) for p in files.values()], get_ledger())}
    assert found[str(files["raw.txt"])].state is FileState.UNCHANGED
    assert found[str(files["clean.txt"])].state is FileState.CHANGED
    assert found[str(files["clean.txt"])].detail.startswith("sha256:") and found[str(files["clean.txt"])].current_hash
    assert found[str(files["results/a.txt"])].state is FileState.MISSING
    assert verify.counts(found.values()) == {"unchanged": 2, "changed": 1, "missing": 1}


def test_a_symlink_to_nothing_is_missing(recorded, tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("t")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    fl.Artifact(str(link)).save()
    target.unlink()
    (checked,) = verify.check([artifact(link)], get_ledger())
    assert checked.state is FileState.MISSING


def test_unchanged_files_are_not_read_again(recorded, monkeypatch):
    calls = []
    real = pm.hook.compute_hash

    def counting(**kwargs):
        calls.append(kwargs["path"])
        return real(**kwargs)

    monkeypatch.setattr(pm.hook, "compute_hash", counting)
    artifacts = [artifact(p) for p in recorded["files"].values()]
    assert {c.state for c in verify.check(artifacts, get_ledger())} == {FileState.UNCHANGED}
    assert calls == []  # the stat cache answered for every file
    recorded["files"]["raw.txt"].write_text("a new, longer content\n")
    verify.check(artifacts, get_ledger())
    assert calls == [str(recorded["files"]["raw.txt"])]


def test_an_earlier_version_says_which_version_the_file_holds_now(recorded):
    path = recorded["files"]["clean.txt"]
    first = artifact(path)
    path.write_text("second\n")
    maker = Recorder().record_job(TransformSpec("again", type="rule"), outputs=[path])
    (checked,) = verify.check([first], get_ledger())
    assert checked.state is FileState.CHANGED and checked.detail == f"now v2, made by run {maker}"


def test_a_folder_changes_when_a_file_in_it_does(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "x.txt").write_text("x")
    fl.Artifact(str(folder)).save()
    assert verify.check([artifact(folder)], get_ledger())[0].state is FileState.UNCHANGED
    (folder / "y.txt").write_text("y")
    assert verify.check([artifact(folder)], get_ledger())[0].state is FileState.CHANGED


def test_the_cli_says_what_differs_with_counts_and_exit_status(recorded):
    ok = invoke("verify")
    assert ok.exit_code == 0 and ok.output.strip() == "4 files: 4 unchanged, 0 changed, 0 missing"
    recorded["files"]["clean.txt"].write_text("edited\n")
    recorded["files"]["results/a.txt"].unlink()
    bad = invoke("verify")
    assert bad.exit_code == 1
    lines = bad.output.splitlines()
    assert lines[-1] == "4 files: 2 unchanged, 1 changed, 1 missing"
    assert sorted(line.split("\t")[:2] for line in lines[:-1]) == [
        ["changed", str(recorded["files"]["clean.txt"])],
        ["missing", str(recorded["files"]["results/a.txt"])],
    ]
    everything = invoke("verify", "--all")
    assert len(everything.output.splitlines()) == 5 and everything.output.count("unchanged\t") == 2


def test_paths_folders_and_runs(recorded, tmp_path):
    recorded["files"]["results/b.txt"].write_text("edited\n")
    one = invoke("verify", "raw.txt")
    assert one.exit_code == 0 and one.output.strip() == "1 file: 1 unchanged, 0 changed, 0 missing"
    folder = invoke("verify", "results")
    assert folder.exit_code == 1 and folder.output.splitlines()[-1] == "2 files: 1 unchanged, 1 changed, 0 missing"
    run = invoke("verify", "--run", recorded["workflow"])  # the workflow run's files are its jobs' files
    assert run.output.splitlines()[-1] == "4 files: 3 unchanged, 1 changed, 0 missing"
    versioned = invoke("verify", "raw.txt@v1")
    assert versioned.exit_code == 0
    unknown = invoke("verify", "raw.txt", "nowhere.txt")
    assert unknown.exit_code == 1 and "not recorded\tnowhere.txt" in unknown.output
    assert unknown.output.splitlines()[-1].endswith("; 1 not recorded")
    both = invoke("verify", "raw.txt", "--run", recorded["job"])
    assert both.exit_code == 2 and "give PATHs or --run, not both" in both.output


def test_json(recorded):
    os.remove(recorded["files"]["raw.txt"])
    result = invoke("verify", "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["counts"] == {"unchanged": 3, "changed": 0, "missing": 1, "not_recorded": 0}
    missing = next(f for f in data["files"] if f["state"] == "missing")
    assert missing["path"] == str(recorded["files"]["raw.txt"]) and missing["version"] == 1 and missing["uid"]
