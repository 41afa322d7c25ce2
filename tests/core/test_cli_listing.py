"""Listings that scale and read well: `flowledger runs` and `flowledger artifacts`.

One query per listing, rows written as they come, plain tab-separated text when piped, columns that fit
a narrow terminal (the uid stays whole), times in the user's zone, what tells jobs apart, a note when a
limit cuts the list, and internal files left out.
"""

import inspect
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flowledger import clitools, listing, render
from flowledger.cli import cli
from flowledger.plugin_api import Recorder, TransformSpec
from flowledger.store import get_ledger

pytestmark = pytest.mark.usefixtures("any_store")  # each test on SQLite, then on PostgreSQL

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def jobs(tmp_path, monkeypatch):
    """A Snakemake-like workflow (wildcards, an errored job) and a Nextflow-like one (tags)."""
    monkeypatch.chdir(tmp_path)
    recorder = Recorder()
    snake = recorder.start_run(
        TransformSpec("variants", version="2.1"),
        reference="wf-1",
        reference_type="snakemake_id",
        started_at="2026-11-30T10:00:00+00:00",
    )
    made = {}
    for index, sample in enumerate(("A", "B")):
        out = tmp_path / f"{sample}.bam"
        out.write_text(sample)
        made[sample] = recorder.record_job(
            TransformSpec("align", type="rule", source_code="bwa mem {input} > {output}"),
            outputs=[out],
            initiated_by=snake,
            json={"rule": "align", "wildcards": {"sample": sample, "lane": "1"}},
            started_at=f"2026-11-30T10:0{index}:00+00:00",
            finished_at=f"2026-11-30T10:0{index}:30+00:00",
        )
    made["failed"] = recorder.record_job(
        TransformSpec("call", type="rule", source_code="bcftools call"),
        initiated_by=snake,
        status="errored",
        error="\nbcftools: no such sample C\nTraceback (most recent call last): ...",
        started_at="2026-11-30T10:05:00+00:00",
        finished_at="2026-11-30T10:05:01+00:00",
    )
    recorder.finish_run(snake, status="errored", finished_at="2026-11-30T10:06:00+00:00")
    nextflow = recorder.start_run(
        TransformSpec("rnaseq", version="3.14"),
        reference="tiny_curie",
        reference_type="nextflow_id",
        started_at="2026-12-02T09:00:00+00:00",
    )
    made["tagged"] = recorder.record_job(
        TransformSpec("QUANT", type="process", source_code="salmon quant"),
        initiated_by=nextflow,
        json={"tag": "liver_rep1", "process": "QUANT"},
        started_at="2026-12-02T09:01:00+00:00",
        finished_at="2026-12-02T09:03:00+00:00",
    )
    recorder.finish_run(nextflow, finished_at="2026-12-02T09:10:00+00:00")
    made.update(snake=snake, nextflow=nextflow)
    return made


def rows(output: str) -> list[list[str]]:
    return [line.split("\t") for line in output.splitlines()]


def test_piped_runs_are_tab_separated_lines_without_padding(jobs):
    output = invoke("runs", "--all", "--utc").output
    lines = output.splitlines()
    assert len(lines) == 6 and all(line == line.rstrip() for line in lines)
    table = rows(output)
    assert [r[0] for r in table][:2] == [jobs["tagged"], jobs["nextflow"]]  # most recent first
    assert all(len(r) == 6 for r in table)
    by_uid = {r[0]: r for r in table}
    assert by_uid[jobs["A"]][1:] == ["completed", "2026-11-30 10:00:00 UTC", "30.0 s", "rule align", "lane=1 sample=A"]
    assert by_uid[jobs["tagged"]][4:] == ["process QUANT", "(liver_rep1)"]
    assert by_uid[jobs["failed"]][1] == "errored"
    assert by_uid[jobs["failed"]][5] == "error: bcftools: no such sample C"  # the error's first line
    assert by_uid[jobs["snake"]][4:] == ["pipeline variants 2.1", "snakemake_id=wf-1"]  # errored, no error text
    assert by_uid[jobs["nextflow"]][4:] == ["pipeline rnaseq 3.14", "nextflow_id=tiny_curie"]
    assert "rule align" in by_uid[jobs["B"]][4] and by_uid[jobs["B"]][3] == "30.0 s"


def test_a_code_hash_version_is_left_out_but_a_given_version_is_shown(jobs):
    transforms = {r[0]: r[4] for r in rows(invoke("runs", "--all").output)}
    assert transforms[jobs["A"]] == "rule align"  # its version is the hash of its code
    assert transforms[jobs["snake"]] == "pipeline variants 2.1"


def test_runs_as_a_streamed_json_array_with_what_tells_jobs_apart(jobs):
    data = json.loads(invoke("runs", "--all", "--json").output)
    by_uid = {r["uid"]: r for r in data}
    assert by_uid[jobs["A"]]["wildcards"] == {"sample": "A", "lane": "1"}
    assert by_uid[jobs["tagged"]]["tag"] == "liver_rep1"
    assert by_uid[jobs["failed"]]["error"].startswith("\nbcftools")
    assert by_uid[jobs["A"]]["initiated_by_run"] == jobs["snake"]
    assert by_uid[jobs["A"]]["duration_s"] == 30.0
    assert by_uid[jobs["snake"]]["started_at"] == "2026-11-30T10:00:00.000000+00:00"  # JSON keeps UTC as stored


def test_a_limit_says_how_many_there_are_and_zero_means_all(jobs):
    result = CliRunner().invoke(cli, ["runs", "--all", "--limit", "2"])
    assert len(result.stdout.splitlines()) == 2
    assert "2 of 6 runs (use --limit" in result.stderr
    everything = CliRunner().invoke(cli, ["runs", "--all", "--limit", "0"])
    assert len(everything.stdout.splitlines()) == 6 and "use --limit" not in everything.stderr
    exact = CliRunner().invoke(cli, ["runs", "--all", "--limit", "6"])
    assert "use --limit" not in exact.stderr  # nothing was cut
    assert json.loads(CliRunner().invoke(cli, ["runs", "--all", "--limit", "1", "--json"]).stdout)[0]["uid"]


def test_since_and_until_take_dates_times_and_ages(jobs):
    def listed(*args):
        return {r[0] for r in rows(invoke("runs", "--all", *args).output)}

    assert listed("--since", "2026-12-01") == {jobs["nextflow"], jobs["tagged"]}
    assert listed("--until", "2026-11-30") == {jobs[k] for k in ("snake", "A", "B", "failed")}  # the whole day
    assert listed("--since", "2026-11-30T10:01:00+00:00", "--until", "2026-11-30 10:05:30+00:00") == {
        jobs["B"],
        jobs["failed"],
    }
    assert listed("--since", "2030-01-01") == set()
    ago = datetime.fromisoformat(listing.parse_when("7d"))
    assert abs((datetime.now(UTC) - ago) - timedelta(days=7)) < timedelta(minutes=1)
    assert listing.parse_when("2026-12-01 14:00+01:00") == "2026-12-01T13:00:00.000000+00:00"
    bad = CliRunner().invoke(cli, ["runs", "--since", "last tuesday"])
    assert bad.exit_code == 1 and "is not a date or time" in bad.output


def test_parent_lists_the_jobs_of_one_run(jobs):
    listed = {r[0] for r in rows(invoke("runs", "--parent", jobs["snake"][:8]).output)}
    assert listed == {jobs["A"], jobs["B"], jobs["failed"]}


def test_times_are_local_and_labelled_or_utc(jobs, monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        local = {r[0]: r[2] for r in rows(invoke("runs", "--all").output)}
        assert local[jobs["snake"]] == "2026-11-30 11:00:00 CET"
        assert render.when("2026-07-01T10:00:00+00:00") == "2026-07-01 12:00:00 CEST"
        utc = {r[0]: r[2] for r in rows(invoke("runs", "--all", "--utc").output)}
        assert utc[jobs["snake"]] == "2026-11-30 10:00:00 UTC"
        before = {r[0]: r[2] for r in rows(invoke("--utc", "runs", "--all").output)}
        assert before == utc  # --utc before the sub-command too
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_one_query_for_a_listing_however_many_runs(jobs):
    ledger = get_ledger()
    statements = []
    ledger.conn.set_trace_callback(statements.append)
    try:
        result = invoke("runs", "--all", "--limit", "0")
    finally:
        ledger.conn.set_trace_callback(None)
    assert len(result.output.splitlines()) == 6
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 2, selects  # the listing, and the check for pending migrations
    assert any("JOIN transforms" in s for s in selects)


def test_listings_are_generators_reading_in_chunks(jobs):
    ledger = get_ledger()
    found = listing.runs(ledger, listing.RunQuery(include_jobs=True))
    assert inspect.isgenerator(found)
    assert next(found).uid == jobs["tagged"]


def terminal(monkeypatch, width):
    monkeypatch.setattr(clitools, "is_terminal", lambda: True)
    monkeypatch.setattr(render, "terminal_width", lambda: width)


@pytest.mark.parametrize("width", [140, 80, 60, 40])
def test_in_a_terminal_columns_fit_and_the_uid_stays_whole(jobs, monkeypatch, width):
    terminal(monkeypatch, width)
    lines = [ANSI.sub("", line) for line in invoke("runs", "--all").output.splitlines()]
    assert lines[0].startswith("uid ") and "status" in lines[0]
    uids = {line.split()[0] for line in lines[1:]}
    assert uids == {jobs[k] for k in ("snake", "A", "B", "failed", "nextflow", "tagged")}
    assert all(len(line) <= max(width, 16 + 2 + 6 + 2 + 11 + 2 + 12) for line in lines)  # the narrowest it gets
    if width >= 80:
        assert all(len(line) <= width for line in lines)
    if width >= 140:  # room for everything; the times' zone is said once, in the header
        assert "lane=1 sample=A" in "\n".join(lines) and "started (" in lines[0]


def test_table_widths_shrink_in_order_and_drop_columns():
    columns = [render.Column("uid"), render.Column("name"), render.Column("note")]
    table = render.Table(columns, tty=True, width=40, narrow=[("note", 10), ("name", 0)])
    lines = [ANSI.sub("", line) for line in table.lines([["A" * 16, "n" * 10, "x" * 30]])]
    assert lines[1] == "A" * 16 + "  " + "n" * 10 + "  " + "x" * 9 + "…"
    narrower = render.Table(columns, tty=True, width=30, narrow=[("note", 10), ("name", 0)])
    lines = [ANSI.sub("", line) for line in narrower.lines([["A" * 16, "n" * 10, "x" * 30]])]
    assert lines[0].split() == ["uid", "note"] and lines[1].startswith("A" * 16 + "  x")
    piped = render.Table(columns, tty=False, narrow=[("note", 10)])
    assert list(piped.lines([["a", "b\tc", "d\ne"]])) == ["a\tb c\td e"]


def test_show_piped_is_not_padded(jobs):
    output = invoke("show", jobs["A"]).output
    assert output and all(line == line.rstrip() for line in output.splitlines())
    assert max(len(line) for line in output.splitlines()) < 200


def record_internal_files(tmp_path):
    (tmp_path / ".snakemake" / "log").mkdir(parents=True)
    log = tmp_path / ".snakemake" / "log" / "2026-12-01T100000.snakemake.log"
    log.write_text("log")
    env = Path(get_ledger().path.parent) / "environments" / "requirements-0123456789abcdef.txt"
    env.parent.mkdir(parents=True)
    env.write_text("flowledger==0.1.0\n")
    (tmp_path / "result.txt").write_text("result")
    recorder = Recorder()
    workflow = recorder.start_run(TransformSpec("wf"), environment=env)
    recorder.finish_run(workflow, report=log)
    recorder.record_job(TransformSpec("make"), outputs=[tmp_path / "result.txt"], initiated_by=workflow)
    return log, env


def test_internal_files_are_not_listed_as_user_data_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    log, env = record_internal_files(tmp_path)
    listed = {r["path"] for r in json.loads(invoke("artifacts", "--json").output)}
    assert listed == {str(tmp_path / "result.txt")}
    everything = {r["path"] for r in json.loads(invoke("artifacts", "--json", "--internal").output)}
    assert everything == {str(tmp_path / "result.txt"), str(log), str(env)}
    assert "1 file: 1 unchanged" in invoke("verify").output


def test_artifacts_piped_and_made_by(jobs, tmp_path):
    table = rows(invoke("artifacts", "--utc").output)
    bam = {r[5]: r for r in table}[str(tmp_path / "A.bam")]
    assert len(bam[0]) == 20 and bam[1:5] == ["v1", "1 B", bam[3], f"rule align lane=1 sample=A (run {jobs['A']})"]
    assert bam[3].endswith(" UTC")


def test_artifacts_all_versions_grouped_under_their_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recorder = Recorder()
    data = tmp_path / "data.txt"
    for text in ("one", "two", "three"):
        data.write_text(text)
        recorder.record_job(TransformSpec("write", type="rule"), outputs=[data])
    (tmp_path / "other.txt").write_text("other")
    recorder.record_job(TransformSpec("other", type="rule"), outputs=[tmp_path / "other.txt"])
    piped = rows(invoke("artifacts", "--all-versions").output)
    assert [(r[0], r[1], r[2]) for r in piped] == [
        (str(tmp_path / "other.txt"), "v1", "latest"),
        (str(data), "v3", "latest"),
        (str(data), "v2", ""),
        (str(data), "v1", ""),
    ]
    limited = CliRunner().invoke(cli, ["artifacts", "--all-versions", "--limit", "1"])
    assert limited.stdout.count("\n") == 1 and "1 of 2 paths" in limited.stderr
    monkeypatch.setattr(clitools, "is_terminal", lambda: True)
    grouped = [ANSI.sub("", line) for line in invoke("artifacts", "--all-versions").output.splitlines()]
    assert grouped[2] == str(data) and grouped[3].split()[:2] == ["v3", "latest"] and grouped[4].split()[0] == "v2"
    versions = json.loads(invoke("artifacts", "--all-versions", "--json").output)
    assert [(v["version"], v["is_latest"]) for v in versions if v["path"] == str(data)] == [
        (3, True),
        (2, False),
        (1, False),
    ]


@pytest.mark.slow
def test_piped_into_head_the_listing_stops_quietly(tmp_path):
    recorder = Recorder()
    with recorder.batch():
        workflow = recorder.start_run(TransformSpec("wf"))
        for n in range(1500):
            recorder.record_job(TransformSpec("job", type="rule"), initiated_by=workflow, json={"wildcards": {"n": n}})
    command = f"{sys.executable} -m flowledger runs --all --limit 0 | head -1"
    done = subprocess.run(command, shell=True, capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    assert len(done.stdout.splitlines()) == 1 and "n=1499" in done.stdout
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
