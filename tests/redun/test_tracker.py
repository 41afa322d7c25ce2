"""The tracker's bookkeeping, with a stand-in recorder: settled and aborted jobs, the one warning."""

import os
from dataclasses import dataclass
from types import SimpleNamespace

from flowledger.plugin_api import CallRecorder, FinishRun, RecordJob, WarnOnce
from flowledger_redun.tracker import JobState, Tracker, new_uid

TASK = SimpleNamespace(fullname="fl_test.t", hash="h" * 40, source='def t():\n    """Does t."""\n')


@dataclass(frozen=True)
class Close:
    """The fake's record of a `close()`."""


class ListRecorder(CallRecorder):
    """Keeps the typed calls it is given, and a `Close()` for each close."""

    def __init__(self):
        self.calls = []

    def submit(self, call):
        self.calls.append(call)

    def close(self, timeout=None):
        self.calls.append(Close())
        return True


def tracker_with(rec, warn=None):
    tracker = Tracker(rec, warn=warn)
    tracker.exec_uid = "x" * 16
    return tracker


def test_settled_jobs_go_to_the_recorder_and_open_ones_end_aborted():
    rec = ListRecorder()
    tracker = tracker_with(rec)
    tracker._record("job-1", JobState("u1", 1.0, ["/in"], TASK), "completed", ["/out"], call_hash="c1")
    [done] = rec.calls  # handed over at once: the recorder batches calls itself
    assert isinstance(done, RecordJob)
    assert (done.reference, done.status, done.uid, list(done.outputs)) == ("job-1", "completed", "u1", ["/out"])
    assert done.initiated_by == "x" * 16 and done.json["call_hash"] == "c1"
    transform = done.transform
    assert (transform.name, transform.type, transform.version, transform.description) == (
        "fl_test.t",
        "task",
        "h" * 40,
        "Does t.",
    )
    tracker.open_jobs["job-2"] = JobState("u2", 2.0, ["/in"], TASK)
    tracker.finish(RuntimeError("stop"))
    assert [type(c) for c in rec.calls] == [RecordJob, RecordJob, FinishRun, Close]
    aborted = rec.calls[1]
    assert (aborted.reference, aborted.status, list(aborted.outputs)) == ("job-2", "aborted", [])
    assert aborted.transform is transform  # one TransformSpec per task hash
    assert rec.calls[2].status == "errored" and rec.calls[2].error == "RuntimeError: stop"
    assert not tracker.open_jobs


def test_jobs_recorded_before_a_failure_stay(monkeypatch):
    rec = ListRecorder()
    warnings = []
    tracker = tracker_with(rec, warn=WarnOnce(warnings.append))
    tracker._record("done before", JobState("u1", 1.0, [], TASK), "completed", [])

    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(tracker, "_finish", broken)
    tracker.finish(None)
    tracker._fail(RuntimeError("again"))
    tracker.warn("the recorder failed too")  # the BackgroundRecorder's warn callback
    assert len(warnings) == 1 and "boom" in warnings[0]
    assert rec.calls[0].reference == "done before" and rec.calls[-1] == Close()


def test_uids_are_16_base62_characters():
    uids = {new_uid() for _ in range(1000)}
    assert len(uids) == 1000
    assert all(len(u) == 16 and u.isalnum() and u.isascii() for u in uids)


class FlushingRecorder(ListRecorder):
    def flush(self, timeout=None):
        self.calls.append("flush")
        return True


def test_a_job_reading_a_file_made_earlier_waits_until_it_is_hashed(tmp_path, monkeypatch):
    """It may delete the file (a cleanup task): hashed first, the file stays in the lineage."""
    from redun import File

    monkeypatch.chdir(tmp_path)
    (tmp_path / "made.txt").write_text("x")
    rec = FlushingRecorder()
    tracker = tracker_with(rec)
    tracker._record("job-1", JobState("u1", 1.0, [], TASK), "completed", [os.path.join(os.getcwd(), "made.txt")])
    promise = SimpleNamespace(then=lambda done, failed: None)
    reader = {"parent_job": None, "task": TASK, "args_hash": None, "eval_hash": None, "result_promise": promise}
    tracker._job_started(SimpleNamespace(id="job-2", args=((File("made.txt"),), {}), **reader))
    assert rec.calls[-1] == "flush"
    tracker._job_started(SimpleNamespace(id="job-3", args=((File("made.txt"),), {}), **reader))
    tracker._job_started(SimpleNamespace(id="job-4", args=((), {}), **reader))
    assert rec.calls.count("flush") == 1  # hashed already: no more waiting
