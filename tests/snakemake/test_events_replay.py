"""Fast tests: the captured events of real Snakemake 8 and 9 runs, replayed through the handlers into a
fake recorder (no Snakemake run, no ledger)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from snakemake_logger_plugin_flowledger import LogHandler, LogHandlerSettings, events, handler8
from snakemake_logger_plugin_flowledger.recording import Warner
from snakemake_logger_plugin_flowledger.tracker import WorkflowTracker

CAPTURES = Path(__file__).parent / "data" / "captures"
SM9_WORKFLOW_ID = "f0c3b0c2-a0d7-42b9-a530-5b3fea9f0342"


class FakeRecorder:
    """Stands in for SafeRecorder: remembers the calls."""

    def __init__(self):
        self.warner = Warner()
        self.failed = False
        self.calls: list[tuple[str, object, dict]] = []
        self.closed = False

    def start_run(self, transform, **fields):
        self.calls.append(("start_run", transform, fields))
        return "workflow-uid"

    def record_job(self, transform, **fields):
        self.calls.append(("record_job", transform, fields))
        return f"job-uid-{len(self.calls)}"

    def finish_run(self, uid, **fields):
        self.calls.append(("finish_run", uid, fields))

    def close(self, timeout=None):
        self.closed = True

    def named(self, method):
        return [(what, fields) for name, what, fields in self.calls if name == method]

    def jobs(self):
        return {spec.name + json.dumps(fields["json"]["wildcards"], sort_keys=True): fields
                for spec, fields in self.named("record_job")}


def lines(name):
    with open(CAPTURES / name) as handle:
        return [json.loads(line) for line in handle]


def replay9(name):
    """Feed a Snakemake 9 capture to the logger plugin, as Snakemake's queue listener would."""
    captured = lines(name)
    common = type("Common", (), dict(captured[0]["common_settings"]))()
    handler = LogHandler(common_settings=common, settings=LogHandlerSettings())
    fake = FakeRecorder()
    handler._tracker.recorder = fake
    for entry in captured[1:]:
        entry = {k: v for k, v in entry.items() if not k.startswith("_")}
        if entry.get("event") in (None, "None"):
            entry.pop("event", None)
        handler.handle(logging.makeLogRecord(entry))
    handler.close()
    return fake


def replay8(name, monkeypatch):
    """Feed a Snakemake 8 capture to the handler script; duplicates re-send the same dict, as 8.30 does."""
    fake = FakeRecorder()
    monkeypatch.setattr(handler8, "_tracker", WorkflowTracker(snakemake_major=8, recorder=fake))
    monkeypatch.setattr(handler8, "_disabled", False)
    previous = None
    for entry in lines(name):
        duplicate = entry.pop("_dup", False)
        entry.pop("_types", None)
        if duplicate and previous is not None:
            handler8.log_handler(previous)
            continue
        previous = entry
        handler8.log_handler(entry)
    handler8._finish()
    return fake


def test_snakemake9_success():
    fake = replay9("sm9_success.jsonl")
    (spec, start), = fake.named("start_run")
    assert spec.type == "pipeline"
    assert start["reference"] == SM9_WORKFLOW_ID and start["reference_type"] == "snakemake_id"
    assert start["json"]["cmd"].startswith("/home/user/.venv/bin/snakemake --cores 2")
    assert start["json"]["snakemake_version"] == "9.27.1" and start["json"]["cores"] == 2
    assert start["json"]["job_stats"]["total"] == 11
    assert start["created_by"] == "root"
    jobs = fake.jobs()
    assert len(jobs) == 11 and {f["status"] for f in jobs.values()} == {"completed"}
    raw = jobs['make_raw{"sample": "B"}']
    assert raw["initiated_by"] == "workflow-uid"
    assert raw["reference"] == f"{SM9_WORKFLOW_ID}/7" and raw["reference_type"] == "snakemake_job"
    assert raw["inputs"][0].endswith("/data/B.txt") and Path(raw["inputs"][0]).is_absolute()
    assert [Path(p).name for p in raw["outputs"]] == ["B.upper.txt", "B.tsv"]  # output, then benchmark
    assert [Path(p).name for p in raw["logs"]] == ["B.log"]
    assert raw["json"]["shellcmd"].startswith("(tr a-z A-Z < data/B.txt")
    assert raw["json"]["resources"]["mem_mb"] == 100
    assert raw["started_at"] < raw["finished_at"]
    (uid, finish), = fake.named("finish_run")
    assert uid == "workflow-uid" and finish["status"] == "completed" and finish["error"] is None
    assert fake.closed


def test_snakemake9_failure():
    fake = replay9("sm9_failure.jsonl")
    jobs = {spec.name: fields for spec, fields in fake.named("record_job")}
    assert jobs["prep_fail"]["status"] == "completed"
    shell = jobs["fail_shell"]
    assert shell["status"] == "errored" and shell["exit_code"] == 3
    assert "returned non-zero exit status 3" in shell["error"]
    assert jobs["fail_run"]["status"] == "errored"  # no error event for run: jobs; the probe adds the code live
    (_, finish), = fake.named("finish_run")
    assert finish["status"] == "errored" and "WorkflowError" in finish["error"]
    assert finish["json"]["job_counts"] == {"completed": 1, "errored": 2, "aborted": 0}


@pytest.mark.parametrize("name", ["sm9_dryrun.jsonl", "sm9_uptodate.jsonl"])
def test_snakemake9_dry_and_uptodate_record_nothing(name):
    fake = replay9(name)
    assert fake.calls == []


def test_snakemake8_success_dedupes_and_attaches_shell_commands(monkeypatch):
    fake = replay8("sm8_success.jsonl", monkeypatch)
    (spec, start), = fake.named("start_run")
    assert start["reference_type"] == "snakemake_id" and len(start["reference"]) == 36  # a uuid4 made here
    assert start["json"]["job_stats"]["total"] == 11  # parsed from run_info's text table
    jobs = fake.jobs()
    assert len(jobs) == 11  # not 22: the second delivery of each message is ignored
    assert jobs['make_raw{"sample": "C"}']["json"]["shellcmd"].startswith("(tr a-z A-Z < data/C.txt")
    assert jobs['stats{"sample": "A"}']["json"]["shellcmd"] is None
    assert fake.named("finish_run")[0][1]["status"] == "completed"


def test_snakemake8_failure(monkeypatch):
    fake = replay8("sm8_failure.jsonl", monkeypatch)
    jobs = {spec.name: fields for spec, fields in fake.named("record_job")}
    assert jobs["fail_shell"]["exit_code"] == 3
    assert jobs["fail_run"]["exit_code"] == 1  # from the spawn traceback's CalledProcessError text
    assert fake.named("finish_run")[0][1]["status"] == "errored"


def test_snakemake8_uptodate_records_nothing(monkeypatch):
    assert replay8("sm8_uptodate.jsonl", monkeypatch).calls == []


def test_parse_exit_code():
    assert events.parse_exit_code("Command 'exit 3' returned non-zero exit status 3.") == 3
    assert events.parse_exit_code("spawn ... exit status 1 ... returned non-zero exit status 2.") == 2
    assert events.parse_exit_code("ValueError: nope") is None
    assert events.parse_exit_code(None) is None


def test_jsonable_keeps_names_of_snakemake_lists():
    class Resources(list):  # like snakemake.io.Resources / ResourceList: a list with names
        def items(self):
            return [("_cores", 1), ("mem_mb", 100)]

    assert events.jsonable(Resources([1, 100])) == {"_cores": 1, "mem_mb": 100}
    assert events.jsonable({"a": {1, 2}, "b": (1, "x")}) == {"a": [1, 2], "b": [1, "x"]}
    assert events.jsonable(object.__new__(Warner)).startswith("<")


def test_job_stats_table():
    text = "Job stats:\njob         count\n--------  -------\nall             1\nmake_raw        3\ntotal          4\n"
    assert events.parse_job_stats(text) == {"all": 1, "make_raw": 3, "total": 4}


def test_a_failing_recorder_warns_once_and_snakemake_goes_on(capsys):
    from snakemake_logger_plugin_flowledger.recording import SafeRecorder

    def broken(db, warn):
        raise OSError("disk full")

    recorder = SafeRecorder(factory=broken)
    tracker = WorkflowTracker(snakemake_major=9, recorder=recorder)
    for event in [events.Event("workflow_started", 1.0, "t", {"workflow_id": "w"}),
                  events.Event("job_info", 2.0, "t", {"jobid": 1, "rule": "r", "input": [], "output": ["x"]}),
                  events.Event("job_finished", 3.0, "t", {"jobid": 1})]:
        tracker.handle(event)
    tracker.close()
    err = capsys.readouterr().err
    assert err.count("WARNING: flowledger") == 1 and "disk full" in err


def test_ctrl_c_makes_the_run_and_its_running_jobs_aborted():
    """Snakemake 8 and 9 log "Terminating processes on user request" on Ctrl-C (no error event in 9)."""
    fake = FakeRecorder()
    tracker = WorkflowTracker(snakemake_major=9, recorder=fake)
    job = {"jobid": 1, "rule": "slow", "input": [], "output": ["b.txt"], "log": [], "benchmark": []}
    for event in [events.Event("workflow_started", 1.0, "M", {"workflow_id": "w"}),
                  events.Event("job_info", 2.0, "M", job),
                  events.Event("info", 3.0, "M", {"msg": "Terminating processes on user request, this might take "
                                                         "some time."}),
                  events.Event("error", 4.0, "M", {"msg": "WorkflowError:\nAt least one job did not complete "
                                                          "successfully.", "exception": "WorkflowError"})]:
        tracker.handle(event)
    tracker.close()
    (spec, fields), = fake.named("record_job")
    assert spec.name == "slow" and fields["status"] == "aborted"
    (_, finish), = fake.named("finish_run")
    assert finish["status"] == "aborted" and "WorkflowError" in finish["error"]
