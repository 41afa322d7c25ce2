"""Fast tests: the captured events of real Snakemake 8 and 9 runs, replayed through the handlers into a
fake recorder (no Snakemake run, no ledger)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowledger.plugin_api import Call, CallRecorder, FinishRun, RecordJob, RunInfo, StartRun
from flowledger.testing import recorder_api_mismatches
from snakemake_logger_plugin_flowledger import LogHandler, LogHandlerSettings, events, handler8
from snakemake_logger_plugin_flowledger.events import Error, JobFinished, JobInfo, Message, WorkflowStarted
from snakemake_logger_plugin_flowledger.tracker import Tracker

CAPTURES = Path(__file__).parent / "data" / "captures"
SM9_WORKFLOW_ID = "f0c3b0c2-a0d7-42b9-a530-5b3fea9f0342"


class FakeRecorder(CallRecorder):
    """Stands in for the background recorder: keeps the typed calls it is given (StartRun, RecordJob, ...)."""

    def __init__(self):
        self.calls: list[object] = []
        self.closed = False

    def submit(self, call: Call) -> None:
        self.calls.append(call)

    def find_run(self, *, reference: str, reference_type: str) -> str | None:
        return None

    def get_run(self, uid: str) -> RunInfo | None:
        return None

    def runs_under(self, uid: str) -> list[RunInfo]:
        return []

    @contextlib.contextmanager
    def batch(self) -> Iterator[object]:
        yield self

    def close(self, timeout: float | None = None) -> bool:
        self.closed = True
        return True

    def named(self, kind):
        return [call for call in self.calls if isinstance(call, kind)]

    def jobs(self) -> dict[str, RecordJob]:
        return {
            job.transform.name + json.dumps(job.json["wildcards"], sort_keys=True): job for job in self.named(RecordJob)
        }


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
    monkeypatch.setattr(handler8, "_tracker", Tracker(snakemake_major=8, recorder=fake))
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
    (start,) = fake.named(StartRun)
    assert start.transform.type == "pipeline"
    assert start.reference == SM9_WORKFLOW_ID and start.reference_type == "snakemake_id"
    assert start.json["cmd"].startswith("/home/user/.venv/bin/snakemake --cores 2")
    assert start.json["snakemake_version"] == "9.27.1" and start.json["cores"] == 2
    assert start.json["job_stats"]["total"] == 11
    assert start.created_by == "root"
    jobs = fake.jobs()
    assert len(jobs) == 11 and {job.status for job in jobs.values()} == {"completed"}
    raw = jobs['make_raw{"sample": "B"}']
    assert raw.initiated_by == start.uid  # the workflow run's uid
    assert raw.reference == f"{SM9_WORKFLOW_ID}/7" and raw.reference_type == "snakemake_job"
    assert raw.inputs[0].endswith("/data/B.txt") and Path(raw.inputs[0]).is_absolute()
    assert [Path(p).name for p in raw.outputs] == ["B.upper.txt", "B.tsv"]  # output, then benchmark
    assert [Path(p).name for p in raw.logs] == ["B.log"]
    assert raw.json["shellcmd"].startswith("(tr a-z A-Z < data/B.txt")
    assert raw.json["resources"]["mem_mb"] == 100
    assert raw.started_at < raw.finished_at
    (finish,) = fake.named(FinishRun)
    assert finish.uid == start.uid and finish.status == "completed" and finish.error is None
    assert fake.closed


def test_snakemake9_failure():
    fake = replay9("sm9_failure.jsonl")
    jobs = {job.transform.name: job for job in fake.named(RecordJob)}
    assert jobs["prep_fail"].status == "completed"
    shell = jobs["fail_shell"]
    assert shell.status == "errored" and shell.exit_code == 3
    assert "returned non-zero exit status 3" in shell.error
    assert jobs["fail_run"].status == "errored"  # no error event for run: jobs; the probe adds the code live
    (finish,) = fake.named(FinishRun)
    assert finish.status == "errored" and "WorkflowError" in finish.error
    assert finish.json["job_counts"] == {"completed": 1, "errored": 2, "aborted": 0}


@pytest.mark.parametrize("name", ["sm9_dryrun.jsonl", "sm9_uptodate.jsonl"])
def test_snakemake9_dry_and_uptodate_record_nothing(name):
    fake = replay9(name)
    assert fake.calls == []


def test_snakemake8_success_dedupes_and_attaches_shell_commands(monkeypatch):
    fake = replay8("sm8_success.jsonl", monkeypatch)
    (start,) = fake.named(StartRun)
    assert start.reference_type == "snakemake_id" and len(start.reference) == 36  # a uuid4 made here
    assert start.json["job_stats"]["total"] == 11  # parsed from run_info's text table
    jobs = fake.jobs()
    assert len(jobs) == 11  # not 22: the second delivery of each message is ignored
    assert jobs['make_raw{"sample": "C"}'].json["shellcmd"].startswith("(tr a-z A-Z < data/C.txt")
    assert jobs['stats{"sample": "A"}'].json["shellcmd"] is None
    assert fake.named(FinishRun)[0].status == "completed"


def test_snakemake8_failure(monkeypatch):
    fake = replay8("sm8_failure.jsonl", monkeypatch)
    jobs = {job.transform.name: job for job in fake.named(RecordJob)}
    assert jobs["fail_shell"].exit_code == 3
    assert jobs["fail_run"].exit_code == 1  # from the spawn traceback's CalledProcessError text
    assert fake.named(FinishRun)[0].status == "errored"


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
    assert events.jsonable(object()).startswith("<")  # anything else: its str()


def test_job_stats_table():
    text = "Job stats:\njob         count\n--------  -------\nall             1\nmake_raw        3\ntotal          4\n"
    assert events.parse_job_stats(text) == {"all": 1, "make_raw": 3, "total": 4}


def test_a_failing_recorder_warns_once_and_snakemake_goes_on(capsys, monkeypatch):
    """The tracker's own recorder (open_recorder: the core's BackgroundRecorder, warning through the tracker's
    WarnOnce) on a ledger that cannot be opened: one warning, and the tracker goes on and closes."""
    import flowledger.background

    def broken(db):  # what the background recorder opens the ledger with
        raise OSError("disk full")

    monkeypatch.setattr(flowledger.background, "Recorder", broken)
    tracker = Tracker(snakemake_major=9)
    for event in [
        WorkflowStarted(time=1.0, thread="t", workflow_id="w"),
        JobInfo(time=2.0, thread="t", jobid=1, rule="r", output=("x",)),
        JobFinished(time=3.0, thread="t", jobid=1),
    ]:
        tracker.handle(event)
    tracker.close()
    err = capsys.readouterr().err
    assert err.count("WARNING: flowledger") == 1 and "disk full" in err


def test_ctrl_c_makes_the_run_and_its_running_jobs_aborted():
    """Snakemake 8 and 9 log "Terminating processes on user request" on Ctrl-C (no error event in 9)."""
    fake = FakeRecorder()
    tracker = Tracker(snakemake_major=9, recorder=fake)
    for event in [
        WorkflowStarted(time=1.0, thread="M", workflow_id="w"),
        JobInfo(time=2.0, thread="M", jobid=1, rule="slow", output=("b.txt",)),
        Message(time=3.0, thread="M", msg="Terminating processes on user request, this might take some time."),
        Error(
            time=4.0,
            thread="M",
            msg="WorkflowError:\nAt least one job did not complete successfully.",
            exception="WorkflowError",
        ),
    ]:
        tracker.handle(event)
    tracker.close()
    (job,) = fake.named(RecordJob)
    assert job.transform.name == "slow" and job.status == "aborted"
    (finish,) = fake.named(FinishRun)
    assert finish.status == "aborted" and "WorkflowError" in finish.error


def test_the_fake_recorder_is_a_recorder():
    """The fake has the recorder API's signatures, so the tracker cannot call it in a way the real one refuses."""
    assert recorder_api_mismatches(FakeRecorder) == []
