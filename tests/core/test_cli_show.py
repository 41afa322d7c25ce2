"""`flowledger show`: a run (with a workflow run's summary, and `--code`) or a recorded file (its versions)."""

import json

import pytest
from click.testing import CliRunner
from flowledger.cli import cli
from flowledger.plugin_api import Recorder, TransformSpec

pytestmark = pytest.mark.usefixtures("any_store")  # each test on SQLite, then on PostgreSQL


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def workflow(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recorder = Recorder()
    wf = recorder.start_run(
        TransformSpec("variants", version="2.1"),
        reference="wf-9",
        reference_type="snakemake_id",
        started_at="2026-11-30T10:00:00+00:00",
    )
    jobs = {}
    for index, (sample, seconds) in enumerate((("A", 5), ("B", 50), ("C", 20))):
        out = tmp_path / f"{sample}.bam"
        out.write_text(sample * 1000)
        jobs[sample] = recorder.record_job(
            TransformSpec("align", type="rule", source_code="bwa mem {input} > {output}\n"),
            outputs=[out],
            initiated_by=wf,
            json={"wildcards": {"sample": sample}, "shellcmd": f"bwa mem {sample}.fq > {sample}.bam"},
            started_at=f"2026-11-30T10:0{index}:00+00:00",
            finished_at=f"2026-11-30T10:0{index}:{seconds:02d}+00:00",
        )
    jobs["failed"] = recorder.record_job(
        TransformSpec("call", type="rule"),
        initiated_by=wf,
        status="errored",
        error="bcftools failed\nline two",
        json={"shellcmd": "bcftools call A.bam"},
        started_at="2026-11-30T10:05:00+00:00",
        finished_at="2026-11-30T10:05:01+00:00",
    )
    recorder.finish_run(wf, status="errored", finished_at="2026-11-30T10:30:00+00:00")
    jobs["workflow"] = wf
    return jobs


def test_a_workflow_run_is_summed_up(workflow):
    text = invoke("show", workflow["workflow"], "--utc").output
    lines = text.splitlines()
    assert "jobs: 4: 3 completed, 1 errored" in lines
    assert "made: 3 files, 3.0 kB" in lines
    assert "duration: 30 min 0 s" in lines
    slowest = text.split("slowest jobs: ")[1].splitlines()
    assert slowest[0] == f"50.0 s  {workflow['B']}  rule align sample=B"
    assert slowest[1].strip() == f"20.0 s  {workflow['C']}  rule align sample=C"
    assert "started: 2026-11-30 10:00:00 UTC" in lines and "reference: snakemake_id=wf-9" in lines
    jobs = text.split("jobs (4)")[1].splitlines()[1:]
    assert [job.split("\t")[0].strip() for job in jobs] == [workflow[k] for k in ("A", "B", "C", "failed")]
    data = json.loads(invoke("show", workflow["workflow"], "--json").output)
    assert data["summary"]["jobs"] == 4 and data["summary"]["jobs_by_state"] == {"completed": 3, "errored": 1}
    assert data["summary"]["files_made"] == 3 and data["summary"]["bytes_made"] == 3000
    assert data["summary"]["duration_s"] == 1800.0
    assert [j["uid"] for j in data["summary"]["slowest_jobs"][:2]] == [workflow["B"], workflow["C"]]


def test_only_some_jobs_are_listed_with_a_hint(workflow):
    text = invoke("show", workflow["workflow"], "--jobs", "2").output
    assert f"jobs (4; the first 2, all with: flowledger runs --parent {workflow['workflow']})" in text


def test_a_job_shows_its_wildcards_error_and_parent(workflow):
    text = invoke("show", workflow["failed"]).output
    assert "status: errored" in text and "error: bcftools failed\n  line two" in text
    assert f"part of: {workflow['workflow']} (pipeline variants)" in text
    assert "jobs: " not in text  # a job without jobs of its own has no summary
    assert "details: sample=A" in invoke("show", workflow["A"]).output


def test_code_prints_the_transforms_source_or_the_command_it_ran(workflow):
    assert invoke("show", workflow["A"], "--code").output == "bwa mem {input} > {output}\n"
    assert invoke("show", workflow["failed"], "--code").output == "bcftools call A.bam\n"  # no source: the command
    none = invoke("show", workflow["workflow"], "--code")
    assert none.exit_code == 1 and "no code was recorded for run" in none.output


def test_a_file_by_path_version_or_uid(workflow, tmp_path):
    (tmp_path / "A.bam").write_text("realigned")
    again = Recorder().record_job(TransformSpec("align", type="rule"), outputs=[tmp_path / "A.bam"])
    text = invoke("show", "A.bam").output
    assert f"file: {tmp_path / 'A.bam'}" in text and "version: 2 (the latest)" in text
    assert f"made by: {again} rule align [completed]" in text and "on disk now: unchanged" in text
    assert "versions: v2  latest" in text
    old = invoke("show", "A.bam@v1").output
    assert "version: 1 of 2" in old and "on disk now: changed (now v2, made by run" in old
    assert f"made by: {workflow['A']} rule align sample=A [completed]" in old
    data = json.loads(invoke("show", "A.bam@v1", "--json").output)
    assert data["version"] == 1 and data["on_disk"] == "changed" and data["made_by"]["uid"] == workflow["A"]
    assert [v["version"] for v in data["versions"]] == [2, 1]
    assert json.loads(invoke("show", data["uid"], "--json").output)["version"] == 1
    coded = invoke("show", "A.bam", "--code")
    assert coded.exit_code == 1 and "A.bam is a file, not a run" in coded.output
    missing = invoke("show", "nothing.txt")
    assert missing.exit_code == 1 and "no run with uid 'nothing.txt'" in missing.output


def test_a_file_read_and_reproduced_by_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("in")
    (tmp_path / "out.txt").write_text("out")
    recorder = Recorder()
    first = recorder.record_job(TransformSpec("make"), inputs=["in.txt"], outputs=["out.txt"])
    again = recorder.record_job(TransformSpec("make"), inputs=["in.txt"], outputs=["out.txt"], status="cached")
    text = invoke("show", "out.txt").output
    assert f"made by: {first} pipeline make [completed]" in text
    assert f"reproduced by: {again} pipeline make [cached]" in text
    assert f"read by: {first}" in invoke("show", "in.txt").output
    data = json.loads(invoke("show", "out.txt", "--json").output)
    assert [r["uid"] for r in data["replicated_by"]] == [again]
