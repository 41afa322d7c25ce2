"""Importing past runs from a launch dir: the successful run, the failed run, a `-resume`, bad input."""

import json
import shutil

import flowledger.lineage
import nf_samples
import pytest
from click.testing import CliRunner
from flowledger.models import Artifact, Run
from flowledger.plugin_api import Recorder
from flowledger_nextflow.errors import NextflowError
from flowledger_nextflow.importer import import_launch_dir
from nf_support import snapshot


def _import(launch_dir, run_name=None, **kwargs):
    recorder = Recorder()
    try:
        return import_launch_dir(recorder, launch_dir, run_name, **kwargs)
    finally:
        recorder.close()


def test_import_successful_run(launch_dir):
    [result] = _import(launch_dir, nf_samples.OK)
    assert (result.recorded, result.existing, result.published) == (7, 0, 1)
    run = Run.filter(reference=nf_samples.OK, reference_type="nextflow_id").one()
    assert run.status == "completed" and run.transform.name == "lineage-demo" and run.transform.version == "1.0.0"
    assert run.transform.type == "pipeline"
    assert run.json["session_id"] == nf_samples.SESSIONS[nf_samples.OK]
    assert run.json["command_line"] == "nextflow run main.nf -with-trace"
    assert run.json["nextflow_version"] == "26.04.6" and run.json["script_id"].startswith("6dff7986")
    tasks = Run.filter(initiated_by_run=run).all()
    assert sorted(t.transform.name for t in tasks) == sorted(
        ["lineage-demo:TRIM"] * 3 + ["lineage-demo:COUNT"] * 3 + ["lineage-demo:MERGE"]
    )
    assert {t.transform.type for t in tasks} == {"process"} and {t.status for t in tasks} == {"completed"}
    merge = next(t for t in tasks if t.reference == "41/1d96d1")
    assert merge.json["workdir"].endswith("work/41/1d96d1b882b0df2e24a8bbd819b84b") and merge.exit_code == 0
    assert merge.json["hash"] == "411d96d1b882b0df2e24a8bbd819b84b" and merge.json["resources"]["realtime"] == 14

    assert merge.started_at and merge.finished_at and merge.started_at < merge.finished_at

    # flowledger lineage results/summary.tsv: MERGE -> COUNT x3 -> TRIM x3 -> data/s*.fastq
    published = Artifact.filter(path=str(launch_dir / "results" / "summary.tsv")).one()
    assert published.run == merge
    graph = flowledger.lineage.ancestors(published)
    assert sorted(r.reference for r in graph.runs.values()) == sorted(t.reference for t in tasks)
    raw = sorted(a.path for a in graph.artifacts.values() if a.run is None)
    assert raw == [str(launch_dir / "data" / f"s{i}.fastq") for i in (1, 2, 3)]


def test_import_failed_run(launch_dir):
    _import(launch_dir, nf_samples.FAIL)
    run = Run.filter(reference=nf_samples.FAIL).one()
    assert run.status == "errored" and run.exit_code == 1 and "empty input s3.trimmed.fastq" in run.error
    assert run.json["params"] == {"reads": "data_bad/*.fastq"} and run.json["work_dir"] == str(launch_dir / "work")
    assert run.json["exit_status"] == 1 and "empty input s3.trimmed.fastq" in run.json["error_message"]
    assert run.json["success"] is False and run.json["launch_dir"] == str(launch_dir)
    tasks = {t.json["name"]: t for t in Run.filter(initiated_by_run=run).all()}
    assert set(tasks) == {"TRIM (s1)", "TRIM (s2)", "TRIM (s3)", "COUNT (s1)", "COUNT (s2)", "COUNT (s3)"}
    failed = tasks["COUNT (s3)"]
    assert failed.status == "errored" and failed.exit_code == 1 and "ERROR: empty input" in failed.error
    assert failed.outputs.all() == [] and [a.path for a in failed.inputs.all()] == [
        str(launch_dir / "work" / "a8" / "8c43940ab492725b8969329d625946" / "s3.trimmed.fastq")
    ]
    assert not Run.filter(transform__name="lineage-demo:MERGE").all()  # never ran


def test_import_retry_is_a_separate_task_run(launch_dir):
    """A retried task: the FAILED attempt and the new one (new task id, hash and work dir) are two runs."""
    old = launch_dir / "work" / "8c" / "a25c6bf3a0dc8cae4d1169f97fe9da"
    new = launch_dir / "work" / "ee" / "0123456789abcdef0123456789ab"
    shutil.copytree(old, new, symlinks=True)
    (new / "s3.count.txt").write_text("0\n")
    with open(launch_dir / "trace-20260720-36132700.txt", "a") as fh:
        fh.write(
            "7\tee/012345\t51200\tCOUNT (s3)\tCOMPLETED\t0\t2026-07-20 10:02:16.000\t600ms\t9ms\t90.0%\t"
            "3.4 MB\t7.5 MB\t56.8 KB\t2 B\n"
        )
    _import(launch_dir, nf_samples.FAIL)
    attempts = {r.reference: r for r in Run.filter(transform__name="lineage-demo:COUNT").all()}
    assert (attempts["8c/a25c6b"].status, attempts["8c/a25c6b"].exit_code) == ("errored", 1)
    assert (attempts["ee/012345"].status, attempts["ee/012345"].exit_code) == ("completed", 0)
    assert [a.path for a in attempts["ee/012345"].outputs.all()] == [str(new / "s3.count.txt")]


def test_import_is_idempotent_and_imports_every_run(launch_dir):
    first = _import(launch_dir)
    assert [r.run_name for r in first] == [nf_samples.OK, nf_samples.FAIL]
    before = snapshot(launch_dir)
    second = _import(launch_dir)
    assert [r.recorded for r in second] == [0, 0] and [r.existing for r in second] == [7, 6]
    assert snapshot(launch_dir) == before and Run.filter().count() == 15


def test_import_resumed_run_records_cached_tasks(launch_dir):
    _import(launch_dir, nf_samples.OK)
    nf_samples.build_resumed(launch_dir)
    [result] = _import(launch_dir, nf_samples.RESUMED)
    assert result.recorded == 7
    resumed = Run.filter(reference=nf_samples.RESUMED).one()
    assert resumed.json["session_id"] == nf_samples.SESSIONS[nf_samples.OK]  # -resume shares the session
    cached = Run.filter(initiated_by_run=resumed).all()
    assert {c.status for c in cached} == {"cached"} and len(cached) == 7
    merge = next(c for c in cached if c.reference == "41/1d96d1")
    original = Run.filter(reference="41/1d96d1", status="completed").one()
    # the cached task points at the original outputs (and at the published copy)
    assert merge.outputs.all() == []
    assert sorted(a.path for a in merge.replicated_output_artifacts.all()) == sorted(
        a.path for a in original.outputs.all()
    )
    assert Artifact.filter(path=str(launch_dir / "results" / "summary.tsv")).one().run == original


def test_cli_lineage_of_a_published_file_leads_to_the_raw_inputs(launch_dir, monkeypatch):
    """`flowledger lineage results/summary.tsv`, as the README prints it, from the launch dir."""
    from flowledger.cli import cli

    _import(launch_dir)
    monkeypatch.chdir(launch_dir)
    result = CliRunner().invoke(cli, ["lineage", "results/summary.tsv", "--json"])
    assert result.exit_code == 0, result.output
    graph = json.loads(result.output)
    assert sorted(r["transform"] for r in graph["runs"]) == sorted(
        ["lineage-demo:TRIM"] * 3 + ["lineage-demo:COUNT"] * 3 + ["lineage-demo:MERGE"]
    )
    assert {r["reference"] for r in graph["runs"]} >= {"41/1d96d1", "8e/2efcec"}
    raw = sorted(a["path"] for a in graph["artifacts"] if a["run"] is None)
    assert raw == [str(launch_dir / "data" / f"s{i}.fastq") for i in (1, 2, 3)]


def test_import_without_trace_file_falls_back_to_the_log(launch_dir):
    for trace in launch_dir.glob("trace-*.txt"):
        trace.unlink()
    _import(launch_dir)
    failed = Run.filter(reference="8c/a25c6b").one()
    assert failed.status == "errored" and failed.exit_code == 1
    assert Run.filter(reference_type="nextflow_task_hash").count() == 13


def test_missing_work_dir_is_recorded_and_reported(launch_dir):
    shutil.rmtree(launch_dir / "work" / "41")
    warnings = []
    [result] = _import(launch_dir, nf_samples.OK, warn=warnings.append)
    merge = Run.filter(reference="41/1d96d1").one()
    assert "no work dir found for task 41/1d96d1 (MERGE)" in merge.json["io_unavailable"] and result.problems
    assert len(warnings) == 1 and "41/1d96d1" in warnings[0]


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda d: (d / ".nextflow" / "history").unlink(), "has no .nextflow/history"),
        (lambda d: (d / ".nextflow" / "history").write_text("garbage\n"), "history, line 1"),
        (lambda d: shutil.rmtree(d), "does not exist"),
        (
            lambda d: (
                [p.unlink() for p in (*d.glob("trace-*.txt"), d / ".nextflow.log")]
                and (d / "trace-broken.txt").write_text("task_id\thash\n1\n")
            ),
            r"trace-broken.txt, line 2: 1 columns",
        ),
    ],
)
def test_bad_launch_dir_gives_a_clear_error(launch_dir, break_it, message):
    break_it(launch_dir)
    with pytest.raises(NextflowError, match=message):
        _import(launch_dir)


def test_unknown_run_name(launch_dir):
    with pytest.raises(NextflowError, match="no run named 'nope'"):
        _import(launch_dir, "nope")


def test_cli_import(launch_dir):
    from flowledger.cli import cli

    result = CliRunner().invoke(cli, ["nextflow", "import", str(launch_dir), "--run", nf_samples.FAIL])
    assert result.exit_code == 0, result.output
    assert "fervent_darwin: 6 task runs recorded" in result.output
    bad = CliRunner().invoke(cli, ["nextflow", "import", str(launch_dir / "nope")])
    assert bad.exit_code == 1 and "Error: launch dir" in bad.output and "Traceback" not in bad.output


def test_cli_import_from_hook_never_fails(tmp_path):
    from flowledger.cli import cli

    result = CliRunner().invoke(cli, ["nextflow", "import", str(tmp_path), "--run=x", "--from-hook", "--success=true"])
    assert result.exit_code == 0
    assert result.output.count("WARNING") == 1 and "Traceback" not in result.output


def test_resumed_and_original_trace_files_are_told_apart(launch_dir):
    """Both trace files hold the same hashes; the CACHED rows say which one is the resumed run's."""
    nf_samples.build_resumed(launch_dir)
    original = launch_dir / "trace-20260720-33240700.txt"
    original.touch()  # the newest file, so a tie would pick the wrong one
    results = {r.run_name: r for r in _import(launch_dir)}
    assert results[nf_samples.OK].trace_file == str(original)
    assert results[nf_samples.RESUMED].trace_file.endswith("trace-20260721-1000.txt")
    assert {r.status for r in Run.filter(initiated_by_run__reference=nf_samples.RESUMED)} == {"cached"}


def test_tasks_recorded_meanwhile_are_neither_lost_nor_duplicated(launch_dir, monkeypatch):
    """A race with a live receiver: the batch fails on tasks recorded meanwhile, the rest still go in."""
    from flowledger_nextflow import tracker

    full = launch_dir / "trace-20260720-33240700.txt"
    partial = launch_dir / "partial.tsv"
    partial.write_text("".join(full.read_text().splitlines(keepends=True)[:4]))  # header + TRIM x3
    _import(launch_dir, nf_samples.OK, trace_file=partial)
    assert Run.filter(reference_type="nextflow_task_hash").count() == 3
    real = tracker.recorded_runs
    calls = []

    def stale_first(recorder, wf_uid):  # the first look misses the three tasks
        found = real(recorder, wf_uid)
        calls.append(1)
        return found if len(calls) > 1 else {wf_uid: found[wf_uid]}

    monkeypatch.setattr(tracker, "recorded_runs", stale_first)
    [result] = _import(launch_dir, nf_samples.OK, trace_file=full)
    assert (result.recorded, result.existing) == (4, 3)
    monkeypatch.setattr(tracker, "recorded_runs", real)
    tasks = Run.filter(reference_type="nextflow_task_hash").all()
    assert len(tasks) == 7 and all(t.inputs.count() and t.outputs.count() for t in tasks)
