"""Artifacts: content hashes, versions per path, replicated outputs, odd and missing paths."""

import hashlib
import os

import flowledger as fl
import pytest
from flowledger.plugin_api import Recorder, TransformSpec

pytestmark = pytest.mark.usefixtures("any_store")  # each test on SQLite, then on PostgreSQL


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("A\n")
    (tmp_path / "data" / "b.txt").write_text("B\n")
    return tmp_path


STEP = TransformSpec(name="merge", type="rule", source_code="cat {input} > {output}")


def run_merge(recorder, workdir):
    out = workdir / "out.txt"
    out.write_text((workdir / "data/a.txt").read_text() + (workdir / "data/b.txt").read_text())
    return recorder.record_job(STEP, inputs=["data/a.txt", "data/b.txt"], outputs=["out.txt"])


def test_outputs_are_content_hashed_and_made_by_their_run(workdir):
    job = run_merge(Recorder(), workdir)
    artifact = fl.Artifact.filter(path="out.txt").one()  # relative to the current directory
    assert artifact.path == str(workdir / "out.txt")
    assert (artifact.hash, artifact.hash_type) == (sha256(workdir / "out.txt"), "sha256")
    assert artifact.run.uid == job and artifact.size == 4 and artifact.suffix == ".txt"
    assert artifact.storage_host and artifact.storage_root
    assert len(artifact.uid) == 20 and artifact.uid.endswith("0000")
    run = fl.Run.get(job)
    assert sorted(a.path for a in run.inputs) == [str(workdir / "data/a.txt"), str(workdir / "data/b.txt")]
    assert [a.path for a in run.outputs] == [str(workdir / "out.txt")]


def test_a_rerun_with_identical_bytes_links_a_replicated_output(workdir):
    recorder = Recorder()
    first = run_merge(recorder, workdir)
    second = run_merge(recorder, workdir)
    artifact = fl.Artifact.filter(path="out.txt").one()
    assert artifact.run.uid == first and artifact.version == 1
    rerun = fl.Run.get(second)
    assert list(rerun.replicated_output_artifacts) == [artifact]
    assert rerun.outputs.count() == 0
    assert [r.uid for r in artifact.replicating_runs] == [second]


def test_new_content_at_a_path_is_a_new_version(workdir):
    recorder = Recorder()
    run_merge(recorder, workdir)
    (workdir / "data" / "b.txt").write_text("B changed\n")
    second = run_merge(recorder, workdir)
    latest = fl.Artifact.filter(path="out.txt").one()
    assert latest.version == 2 and latest.run.uid == second
    versions = latest.versions.all()
    assert [v.version for v in versions] == [1, 2] and versions[0].uid[:16] == latest.uid[:16]
    assert [v.is_latest for v in versions] == [0, 1]
    inputs = {a.path: a.version for a in fl.Run.get(second).inputs}
    assert inputs[str(workdir / "data/b.txt")] == 2  # the rerun read the new input version


def test_different_paths_with_the_same_bytes_stay_different_artifacts(workdir):
    (workdir / "empty1.log").write_text("")
    (workdir / "empty2.log").write_text("")
    Recorder().record_job(STEP, outputs=["empty1.log", "empty2.log"])
    assert fl.Artifact.filter(hash=sha256(workdir / "empty1.log")).count() == 2


def test_folders_hash_their_files(workdir):
    Recorder().record_job(STEP, outputs=["data"])
    folder = fl.Artifact.filter(path="data").one()
    assert folder.kind == "folder" and folder.size == 4 and folder.hash_type == "sha256-dir"
    (workdir / "data" / "c.txt").write_text("C")
    Recorder().record_job(STEP, outputs=["data"])
    assert fl.Artifact.filter(path="data").one().version == 2


def test_missing_outputs_are_listed_not_fatal(workdir):
    job = Recorder().record_job(
        STEP, inputs=["data/a.txt", "data/gone.txt"], outputs=["never-made.txt"], status="errored", exit_code=1
    )
    run = fl.Run.get(job)
    assert run.json["missing_outputs"] == [f"{workdir / 'never-made.txt'}: no such file or folder"]
    assert "gone.txt" in run.json["missing_inputs"][0]
    assert run.inputs.count() == 1 and run.outputs.count() == 0


def test_unreadable_input_is_named(workdir, flowledger_plugin):
    class Denied:  # root reads every file, so the permission error is raised where reading happens
        @fl.hookimpl
        def compute_hash(self, path):
            raise PermissionError(13, "Permission denied", path)

    flowledger_plugin(Denied(), name="denied")
    job = Recorder().record_job(STEP, inputs=["data/a.txt"])
    assert fl.Run.get(job).json["missing_inputs"] == [f"{workdir / 'data/a.txt'}: cannot be read (Permission denied)"]


def test_odd_paths_are_recorded_as_they_are(workdir):
    odd = workdir / "with space é 'quote'.txt"
    odd.write_text("odd")
    Recorder().record_job(STEP, outputs=[str(odd)])
    assert fl.Artifact.filter(path=str(odd)).one().hash == sha256(odd)


def test_an_unchanged_file_is_hashed_once(workdir, flowledger_plugin):
    calls = []

    class Counting:
        @fl.hookimpl
        def compute_hash(self, path):
            calls.append(path)
            return None  # fall through to the built-in sha256

    flowledger_plugin(Counting(), name="counting")
    recorder = Recorder()
    run_merge(recorder, workdir)
    run_merge(Recorder(), workdir)  # a new recorder: the ledger's cache still knows the inputs
    assert calls.count(str(workdir / "data/a.txt")) == 1


def test_cached_runs_point_at_the_original_outputs(workdir):
    recorder = Recorder()
    original = run_merge(recorder, workdir)
    cached = recorder.record_job(STEP, inputs=["data/a.txt", "data/b.txt"], outputs=["out.txt"], status="cached")
    run = fl.Run.get(cached)
    assert run.status == "cached"
    assert [a.run.uid for a in run.replicated_output_artifacts] == [original]


def test_a_reader_recorded_before_its_producer_still_connects(workdir):
    """Recorded out of order (a live stream and an import racing): the producer claims the artifact."""
    recorder = Recorder()
    (workdir / "made.txt").write_text("made\n")
    reader = recorder.record_job(TransformSpec(name="reader"), inputs=["made.txt"])
    producer = recorder.record_job(TransformSpec(name="producer"), outputs=["made.txt"])
    artifact = fl.Artifact.filter(path="made.txt").one()
    assert artifact.run.uid == producer
    assert [r.uid for r in artifact.input_of_runs] == [reader]


def test_a_failed_batch_forgets_what_it_cached(workdir):
    recorder = Recorder()
    with pytest.raises(RuntimeError):
        with recorder.batch():
            recorder.record_job(TransformSpec(name="rolled back"), outputs=["data/a.txt"])
            raise RuntimeError("the importer failed half-way")
    job = recorder.record_job(TransformSpec(name="rolled back"), outputs=["data/a.txt"])
    assert fl.Run.get(job).transform.name == "rolled back"
    assert fl.Transform.filter(name="rolled back").count() == 1


def test_special_files_are_recorded_without_being_opened(tmp_path):
    """A FIFO (Snakemake's pipe()) would block whoever opens it: it is an artifact of its own kind, unhashed."""
    import socket
    import subprocess
    import sys

    fifo, sock = tmp_path / "reads.pipe", tmp_path / "service.sock"
    os.mkfifo(fifo)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock))
    script = (
        "from flowledger.plugin_api import Recorder, TransformSpec\n"
        f"Recorder().record_job(TransformSpec('producer'), outputs=[{str(fifo)!r}, {str(sock)!r}, '/dev/null'])\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)  # would hang on open(fifo)
    server.close()
    kinds = {a.path: (a.kind, a.hash, a.size) for a in fl.Artifact.filter()}
    assert kinds == {str(fifo): ("fifo", None, 0), str(sock): ("socket", None, 0), "/dev/null": ("device", None, 0)}


def test_large_outputs_finished_together_are_hashed_side_by_side_and_once(workdir, flowledger_plugin, monkeypatch):
    """A batch of jobs whose large outputs finished together hashes them on several cores (a pipeline's end
    waits for it), each once, and the stat cache keeps them as usual."""
    import threading
    import time

    from flowledger import hashing, recorder
    from flowledger.plugin_api import RecordJob

    monkeypatch.setattr(hashing, "WARM_MIN_BYTES", 1000)  # (small files stand in for large ones)
    monkeypatch.setattr(recorder, "HASH_WORKERS", 3)
    hashed, running, most = [], [0], [0]
    lock = threading.Lock()

    class Slow:
        @fl.hookimpl
        def compute_hash(self, path):
            with lock:
                hashed.append(path)
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.2)
            with lock:
                running[0] -= 1
            return None  # on to the built-in sha256

    flowledger_plugin(Slow(), name="slow")
    outputs = []
    for number in range(3):
        (workdir / f"big{number}.bin").write_bytes(os.urandom(4000))
        outputs.append(str(workdir / f"big{number}.bin"))
    calls = [RecordJob(STEP, f"job{n}-uid-000000", outputs=(path,)) for n, path in enumerate(outputs)]
    failures = []
    Recorder().submit_all(calls, lambda call, error: failures.append(error))
    assert failures == []
    assert most[0] >= 2  # side by side
    assert sorted(hashed) == sorted(outputs)  # each once
    for path in outputs:
        assert fl.Artifact.filter(path=path).one().hash == sha256(path)
    Recorder().record_job(STEP, inputs=outputs)  # another recorder: the stat cache knows them
    assert sorted(hashed) == sorted(outputs)
