"""The observer's bookkeeping, with a stand-in recorder: settled and aborted jobs, the one warning."""

import warnings
from types import SimpleNamespace

from flowledger_redun.observer import ExecutionObserver, JobState, new_uid

TASK = SimpleNamespace(fullname="fl_test.t", hash="h" * 40, source='def t():\n    """Does t."""\n')


class ListRecorder:
    def __init__(self):
        self.calls = []

    def record_job(self, **fields):
        self.calls.append(("record_job", fields))

    def finish_run(self, uid, **fields):
        self.calls.append(("finish_run", uid, fields))

    def close(self):
        self.calls.append(("close",))


def observer_with(rec):
    observer = ExecutionObserver(rec)
    observer.exec_uid = "x" * 16
    return observer


def test_settled_jobs_go_to_the_recorder_and_open_ones_end_aborted():
    rec = ListRecorder()
    observer = observer_with(rec)
    observer._record("job-1", JobState("u1", 1.0, ["/in"], {}, TASK), "completed", ["/out"], call_hash="c1")
    [(kind, done)] = rec.calls  # handed over at once: the recorder batches calls itself
    assert kind == "record_job"
    assert (done["reference"], done["status"], done["uid"], done["outputs"]) == ("job-1", "completed", "u1", ["/out"])
    assert done["initiated_by"] == "x" * 16 and done["json"]["call_hash"] == "c1"
    transform = done["transform"]
    assert (transform.name, transform.type, transform.version, transform.description) == (
        "fl_test.t", "task", "h" * 40, "Does t.")
    observer.open_jobs["job-2"] = JobState("u2", 2.0, ["/in"], {}, TASK)
    observer.finish("errored", RuntimeError("stop"))
    assert [c[0] for c in rec.calls] == ["record_job", "record_job", "finish_run", "close"]
    aborted = rec.calls[1][1]
    assert (aborted["reference"], aborted["status"], aborted["outputs"]) == ("job-2", "aborted", [])
    assert aborted["transform"] is transform  # one TransformSpec per task hash
    assert rec.calls[2][2]["status"] == "errored" and rec.calls[2][2]["error"] == "RuntimeError: stop"
    assert not observer.open_jobs


def test_jobs_recorded_before_a_failure_stay(monkeypatch):
    rec = ListRecorder()
    observer = observer_with(rec)
    observer._record("done before", JobState("u1", 1.0, [], {}, TASK), "completed", [])

    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(observer, "_finish", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        observer.finish("completed", None)
        observer._fail(RuntimeError("again"))
        observer._warn("the recorder failed too")  # the BackgroundRecorder's warn callback
    assert len(caught) == 1 and "boom" in str(caught[0].message)
    assert rec.calls[0][1]["reference"] == "done before" and rec.calls[-1] == ("close",)


def test_uids_are_16_base62_characters():
    uids = {new_uid() for _ in range(1000)}
    assert len(uids) == 1000
    assert all(len(u) == 16 and u.isalnum() and u.isascii() for u in uids)
