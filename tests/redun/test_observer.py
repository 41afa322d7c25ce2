"""The observer's bookkeeping, with a stand-in recorder: bursts, idle flushes, the one warning."""

import warnings

from flowledger_redun import observer as observer_module
from flowledger_redun.observer import ExecutionObserver, new_uid


class ListRecorder:
    def __init__(self):
        self.calls = []

    def record_job(self, **fields):
        self.calls.append(("record_job", fields))

    def finish_run(self, uid, **fields):
        self.calls.append(("finish_run", uid))

    def close(self):
        self.calls.append(("close",))


def test_finished_jobs_go_to_the_recorder_in_bursts(monkeypatch):
    monkeypatch.setattr(observer_module, "FLUSH_JOBS", 3)
    monkeypatch.setattr(observer_module, "FLUSH_SECONDS", 3600)
    rec = ListRecorder()
    observer = ExecutionObserver(rec)
    observer.exec_uid = "x" * 16
    for i in range(4):
        observer._queue_job(reference=str(i))
    assert [c[1]["reference"] for c in rec.calls] == ["0", "1", "2"]
    observer.idle("execution id")  # redun's event loop waited: hand over what finished
    assert [c[1]["reference"] for c in rec.calls] == ["0", "1", "2", "3"]
    observer._queue_job(reference="4")
    observer.finish("completed", None)
    assert [c[0] for c in rec.calls[-3:]] == ["record_job", "finish_run", "close"]


def test_jobs_recorded_before_a_failure_stay(monkeypatch):
    rec = ListRecorder()
    observer = ExecutionObserver(rec)
    observer.exec_uid = "x" * 16
    observer._queue_job(reference="done before")

    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(observer, "_finish", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        observer.finish("completed", None)
        observer._fail(RuntimeError("again"))
    assert len(caught) == 1 and "boom" in str(caught[0].message)
    assert ("record_job", {"reference": "done before"}) in rec.calls and rec.calls[-1] == ("close",)


def test_uids_are_16_base62_characters():
    uids = {new_uid() for _ in range(1000)}
    assert len(uids) == 1000
    assert all(len(u) == 16 and u.isalnum() and u.isascii() for u in uids)
