"""The recording contract as code: every recorder implements `RecorderAPI` exactly, so plugins can swap them."""

import pytest
from flowledger.plugin_api import BackgroundRecorder, CallRecorder, Recorder, RecorderAPI, RunStatus, TransformSpec
from flowledger.testing import recorder_api_mismatches


class KeepingRecorder(CallRecorder):
    """A fake that keeps its calls, as plugin tests write them."""

    def __init__(self):
        self.calls = []

    def submit(self, call):
        self.calls.append(call)


@pytest.mark.parametrize("implementation", [Recorder, BackgroundRecorder])
def test_recorders_implement_the_contract(implementation):
    assert recorder_api_mismatches(implementation) == []


def test_the_check_finds_a_recorder_that_drifted():
    class Drifted(Recorder):
        def finish_run(self, uid, *, status="completed", error=None):  # lost keywords, and their types
            pass

    problems = recorder_api_mismatches(Drifted)
    assert problems and "Drifted.finish_run" in problems[0]


def test_a_fake_built_on_call_recorder_keeps_typed_calls():
    fake = KeepingRecorder()
    workflow = fake.start_run(TransformSpec("wf"), reference="r1", reference_type="test_id")
    fake.record_job(TransformSpec("job", type="rule"), inputs="one/path.txt", initiated_by=workflow)
    fake.finish_run(workflow, status=RunStatus.ERRORED, error="boom")
    start, job, finish = fake.calls
    assert (type(start).__name__, start.uid, start.reference) == ("StartRun", workflow, "r1")
    assert job.inputs == ("one/path.txt",) and job.initiated_by == workflow  # one path, not its letters
    assert (finish.uid, finish.status, finish.error) == (workflow, "errored", "boom")


def test_the_sync_and_background_recorders_record_the_same(tmp_path):
    (tmp_path / "in.txt").write_text("x")
    ledgers = {}
    for implementation in (Recorder, BackgroundRecorder):
        db = tmp_path / f"{implementation.__name__}.db"
        recorder: RecorderAPI = implementation(db)
        workflow = recorder.start_run(TransformSpec("wf"), reference="r1", reference_type="test_id")
        recorder.record_job(
            TransformSpec("job", type="rule"),
            inputs=[tmp_path / "in.txt"],
            initiated_by=workflow,
            reference="1",
            reference_type="test_job",
        )
        recorder.finish_run(workflow)
        assert recorder.find_run(reference="r1", reference_type="test_id") == workflow
        info = recorder.get_run(workflow)
        assert info is not None and info.status is RunStatus.COMPLETED and info.transform == "wf"
        jobs = recorder.runs_under(workflow)
        assert [(j.transform, j.status, j.initiated_by) for j in jobs] == [("job", "completed", workflow)]
        assert recorder.close(timeout=10)
        ledgers[implementation] = (info.reference, [j.reference for j in jobs])
    assert ledgers[Recorder] == ledgers[BackgroundRecorder]


def test_a_status_that_is_not_one_is_refused_with_the_allowed_ones(tmp_path):
    recorder = Recorder(tmp_path / "ledger.db")
    uid = recorder.start_run(TransformSpec("wf"))
    with pytest.raises(Exception, match=r"'done' is not a final run status .*completed, errored, aborted, cached"):
        recorder.finish_run(uid, status="done")
