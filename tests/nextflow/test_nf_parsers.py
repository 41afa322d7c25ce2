"""The parsers, against the exact reference samples and the odd values Nextflow writes."""

import json
import re
from datetime import UTC, datetime, timedelta

import nf_samples
import pytest
from flowledger_nextflow import formats as values
from flowledger_nextflow.config import config_text
from flowledger_nextflow.errors import NextflowError
from flowledger_nextflow.events import parse_event
from flowledger_nextflow.facts import RunFacts, command_option, params_from_command
from flowledger_nextflow.history import read_history
from flowledger_nextflow.logfile import parse_log
from flowledger_nextflow.task import from_fields
from flowledger_nextflow.trace import read_trace
from flowledger_nextflow.workdir import parse_header, parse_staging, read_workdir


def test_values():
    assert values.exit_code(2147483647) is None and values.exit_code("1") == 1 and values.exit_code("-") is None
    assert values.epoch_ms(1784538842912) == datetime(2026, 7, 20, 9, 14, 2, 912000, UTC)
    assert values.epoch_ms(0) is None
    assert values.duration_ms("620ms") == 620 and values.duration_ms("1.2s") == 1200
    assert values.duration_ms("1m 5s") == 65_000 and values.duration_ms("2h 3m 4s") == 7_384_000
    assert values.memory_bytes("3.2 MB") == int(3.2 * 1024**2) and values.memory_bytes("222 B") == 222
    assert values.percent("74.3%") == 74.3 and values.percent("-") is None
    assert values.duration_ms("604") == 604 and values.memory_bytes("3751936") == 3751936  # trace.raw = true
    for odd in ("inf", "nan", "x", {}):
        assert values.duration_ms(odd) is None and values.memory_bytes(odd) is None
    for odd in ("inf", "nan", "x", {}, "99999999999999999999", -(2**40)):
        assert values.epoch_ms(odd) is None and values.exit_code(odd) is None


def test_offset_datetime_bean_dump():
    body = json.loads(nf_samples.weblog_bodies(nf_samples.OK, "/r")[0])
    start = values.offset_datetime(body["metadata"]["workflow"]["start"])
    assert start == datetime(2026, 7, 20, 9, 14, 1, 873412, UTC)
    bean = dict(body["metadata"]["workflow"]["start"], offset={"id": "+02:00", "totalSeconds": 7200})
    assert values.offset_datetime(bean).utcoffset() == timedelta(hours=2)
    assert values.offset_datetime(None) is None and values.offset_datetime({"year": 1}) is None


@pytest.mark.parametrize("run_name", [nf_samples.OK, nf_samples.FAIL])
def test_every_sample_event_parses(run_name):
    events = [parse_event(b) for b in nf_samples.weblog_bodies(run_name, "/r")]
    assert events[0].kind == "started" and events[0].workflow.params["outdir"] == "results"
    assert {e.run_name for e in events} == {run_name}
    completed = [e for e in events if e.kind == "process_completed"]
    assert all(e.task.exit is not None for e in completed)
    assert all(e.task.exit is None for e in events if e.kind == "process_submitted")  # the sentinel
    if run_name == nf_samples.FAIL:
        assert events[-1].kind == "error" and events[-1].task is None and events[-1].workflow is None
        failed = [e.task for e in completed if e.task.status == "FAILED"]
        assert [(t.name, t.exit, t.error_action) for t in failed] == [("COUNT (s3)", 1, "TERMINATE")]


@pytest.mark.parametrize(
    "body, fault",
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "JSON list"),
        (b'{"runId": "x", "runName": "y"}', "no 'event'"),
        (b'{"event": "process_exploded", "runId": "x", "runName": "y"}', "unknown weblog event 'process_exploded'"),
        (b'{"event": "process_started", "runName": "y"}', "lacks 'runId'"),
        (b'{"event": "process_started", "runId": "x", "runName": "y"}', "no 'trace'"),
        (b'{"event": "started", "runId": "x", "runName": "y", "metadata": 3}', "no 'metadata.workflow'"),
    ],
)
def test_malformed_events_name_the_fault(body, fault):
    with pytest.raises(NextflowError, match=fault):
        parse_event(body)


def test_trace_human_format():
    tasks = read_trace(nf_samples.DATA / "trace_failed.txt")
    assert [t.name for t in tasks][-1] == "COUNT (s3)" and len(tasks) == 6  # MERGE never ran
    failed = tasks[-1]
    assert failed.status == "FAILED" and failed.exit == 1 and failed.resources == {"duration": 605, "realtime": 508}
    assert failed.process_name == "COUNT" and failed.hash == "8c/a25c6b"


def test_trace_raw_format_and_errors(tmp_path):
    raw = tmp_path / "trace.txt"
    raw.write_text(
        "task_id\thash\tname\tstatus\texit\tsubmit\tstart\tcomplete\tprocess\tworkdir\n"
        "1\t8e/2efcec\tWF:TRIM (s1)\tCOMPLETED\t0\t1784538842912\t1784538843015\t1784538843532\tWF:TRIM\t"
        "/w/8e/2efcec55\n"
    )
    task = read_trace(raw)[0]
    assert task.start == datetime(2026, 7, 20, 9, 14, 3, 15000, UTC) and task.process_name == "WF:TRIM"
    bad = tmp_path / "bad.txt"
    bad.write_text("task_id\thash\n1\t2\t3\n")
    with pytest.raises(NextflowError, match=r"bad.txt, line 2: 3 columns"):
        read_trace(bad)
    with pytest.raises(NextflowError, match="cannot read trace file"):
        read_trace(tmp_path / "missing.txt")


def test_history():
    entries = read_history(nf_samples.DATA / "history")
    assert [(e.run_name, e.success, e.session_id[:8]) for e in entries] == [
        ("golden_lovelace", True, "b3c2a7e1"),
        ("fervent_darwin", False, "0c9d4f52"),
    ]
    assert entries[1].command == "nextflow run main.nf -with-trace --reads 'data_bad/*.fastq'"


def test_log():
    runs = parse_log((nf_samples.DATA / "nextflow.log").read_text())
    assert [r.run_name for r in runs] == ["golden_lovelace", "fervent_darwin"]
    assert runs[0].version == "26.04.6" and len(runs[0].submitted) == 7 and runs[0].finished
    assert "terminated with an error exit status (1)" in runs[1].error_report
    assert runs[1].completed[-1]["exit"] == "1"


def test_command_run_header_and_staging():
    text = (
        "#!/bin/bash\n### ---\n### name: 'ALIGN (a b)'\n### container: 'biocontainers/bwa:0.7'\n### outputs:\n"
        "### - '*.bam'\n### - 'stats/**'\n### ...\nset -e\nnxf_stage() {\n    true\n    rm -f in\\ put.fq\n"
        "    ln -s /data/in\\ put.fq in\\ put.fq\n    mkdir -p ref && ln -s ../../../ab/cdef/ref.fa ref/ref.fa\n"
        "    cp -fRL /data/copied.txt copied.txt\n    ln /data/hard.txt hard.txt\n}\n"
    )
    assert parse_header(text) == ("ALIGN (a b)", ["*.bam", "stats/**"], "biocontainers/bwa:0.7")
    staged = parse_staging(text, "/w/12/3456")
    assert [(s.name, s.source, s.mode) for s in staged] == [
        ("in put.fq", "/data/in put.fq", "symlink"),
        ("ref/ref.fa", "/w/ab/cdef/ref.fa", "rellink"),
        ("copied.txt", "/data/copied.txt", "copy"),
        ("hard.txt", "/data/hard.txt", "link"),
    ]


def test_read_workdir_of_the_samples(launch_dir):
    merge = next(t for t in nf_samples.work_tree(launch_dir)["runs"][0]["tasks"] if t["name"] == "MERGE")
    wd = read_workdir(merge["workdir"])
    assert [i.source for i in wd.inputs] == [i["target"] for i in merge["staged_inputs"]]
    assert wd.outputs == [f"{merge['workdir']}/summary.tsv"]
    with pytest.raises(NextflowError, match="does not exist"):
        read_workdir(launch_dir / "work" / "00" / "nope")


def test_config_text():
    text = config_text(weblog_url="http://127.0.0.1:9/nextflow", token="u:p")
    assert "trace {" in text and "'http://127.0.0.1:9/nextflow'" in text and "basicToken = 'u:p'" in text
    assert "workflow.onComplete" in text and "catch (Throwable e)" in text and "'--from-hook'" in text
    for argument in (
        "--run=${fl { workflow.runName }}",
        "--session-id=${fl { workflow.sessionId }}",
        "--work-dir=${fl { workflow.workDir }}",
        "--success=${fl { workflow.success }}",
        '"${fl { workflow.launchDir }}"',
        "proc.waitFor(3600, java.util.concurrent.TimeUnit.SECONDS)",  # Nextflow always ends
    ):
        assert argument in text  # what the import needs to know about the run
    assert "weblog" not in config_text()


@pytest.mark.parametrize("run_name", [nf_samples.OK, nf_samples.FAIL])
def test_config_trace_fields_tell_the_importer_what_the_weblog_tells(tmp_path, run_name):
    """A trace file with the configured fields (raw) yields the same tasks as the weblog's `trace`."""
    text = config_text()
    assert "raw = true" in text
    fields = re.search(r"fields = '([^']*)'", text).group(1).split(",")
    traces = [
        json.loads(b)["trace"]
        for b in nf_samples.weblog_bodies(run_name, "/r")
        if json.loads(b)["event"] == "process_completed"
    ]
    path = tmp_path / "trace.txt"
    path.write_text(
        "\n".join(
            "\t".join(row)
            for row in [fields] + [["-" if t.get(f) is None else str(t[f]) for f in fields] for t in traces]
        )
        + "\n"
    )
    same = (
        "task_id",
        "name",
        "status",
        "hash",
        "process",
        "tag",
        "exit",
        "attempt",
        "submit",
        "start",
        "complete",
        "workdir",
        "native_id",
        "error_action",
        "container",
    )
    from_file = [{k: getattr(t, k) for k in same} for t in read_trace(path)]
    assert from_file == [{k: getattr(from_fields(t), k) for k in same} for t in traces]
    assert all(t["start"] and t["complete"] and t["workdir"] and t["attempt"] == 1 for t in from_file)


def test_transform_name_and_version_fallbacks():
    """Name: manifest, else the project; version: manifest version, else the commit, else the script id."""
    info = RunFacts(run_name="x", pipeline_name="demo", pipeline_version="1.0", commit_id="c0ffee", script_id="5c")
    assert (info.transform_name, info.transform_version) == ("demo", "1.0")
    info = RunFacts(
        run_name="x", repository="https://github.com/nf-core/rnaseq.git", commit_id="c0ffee", script_id="5c"
    )
    assert (info.transform_name, info.transform_version) == ("nf-core/rnaseq", "c0ffee")
    info = RunFacts(run_name="x", command_line="nextflow run main.nf -resume", script_id="5c")
    assert (info.transform_name, info.transform_version) == ("main.nf", "5c")


def test_command_line_parts():
    command = "nextflow run nf-core/rnaseq -r 3.14 -profile docker,test --reads 'data/*.fq' --skip_qc -resume"
    assert params_from_command(command) == {"reads": "data/*.fq", "skip_qc": True}
    assert command_option(command, "-profile") == "docker,test"
    assert command_option(command, "-r", "-revision") == "3.14" and command_option(command, "-name") is None
