"""The weblog receiver over real HTTP on loopback: the sample streams, both failure orders, a resumed
run, bad requests; and the lineage it records equals what the importer records."""

import json
import socket
import urllib.request

import nf_samples
import pytest
from flowledger.models import Run
from flowledger.plugin_api import Recorder
from flowledger.store import forget_ledgers
from flowledger_nextflow.importer import import_launch_dir
from nf_support import post, snapshot

TOKEN = "alice:s3cret"


def _stream(receiver, bodies):
    for body in bodies:
        status, answer = post(receiver.url, body, TOKEN)
        assert status == 200, answer
    receiver.wait_idle()


def _use_ledger(monkeypatch, path):
    monkeypatch.setenv("FLOWLEDGER_DB", str(path))
    forget_ledgers()


def test_live_stream_of_both_runs(launch_dir, receiver):
    _stream(receiver, nf_samples.weblog_bodies(nf_samples.OK, launch_dir))
    _stream(receiver, nf_samples.weblog_bodies(nf_samples.FAIL, launch_dir))
    assert (receiver.accepted, receiver.rejected, receiver.failed) == (44, 0, 0) and not receiver.warnings
    ok = Run.filter(reference=nf_samples.OK).one()
    assert ok.status == "completed" and ok.json["params"]["outdir"] == "results"
    assert ok.started_at.startswith("2026-07-20T09:14:01.873412") and ok.finished_at.startswith("2026-07-20T09:14:05")
    merge = Run.filter(reference="41/1d96d1").one()
    assert merge.started_at.startswith("2026-07-20T09:14:04.358")  # the exact `start` of the stream
    fail = Run.filter(reference=nf_samples.FAIL).one()
    assert fail.status == "errored" and fail.exit_code == 1 and fail.error == "ERROR: empty input s3.trimmed.fastq"
    assert Run.filter(initiated_by_run=fail).count() == 6


def test_live_and_import_record_the_same_lineage(launch_dir, receiver, tmp_path, monkeypatch):
    _stream(receiver, nf_samples.weblog_bodies(nf_samples.OK, launch_dir))
    _stream(receiver, nf_samples.weblog_bodies(nf_samples.FAIL, launch_dir))
    live = snapshot(launch_dir)
    _use_ledger(monkeypatch, tmp_path / "imported.db")
    recorder = Recorder()
    import_launch_dir(recorder, launch_dir)
    recorder.close()
    imported = snapshot(launch_dir)
    assert len(live) == 15 and live == imported


def test_error_event_before_completed(launch_dir, receiver):
    """Nextflow <= 25.04 sends `error` before `completed`."""
    bodies = nf_samples.weblog_bodies(nf_samples.FAIL, launch_dir)
    bodies[-2], bodies[-1] = bodies[-1], bodies[-2]
    _stream(receiver, bodies)
    fail = Run.filter(reference=nf_samples.FAIL).one()
    assert fail.status == "errored" and fail.exit_code == 1 and fail.error == "ERROR: empty input s3.trimmed.fastq"
    assert fail.json["error_message"] == "ERROR: empty input s3.trimmed.fastq"


def test_error_event_alone_marks_the_run_errored(launch_dir, receiver):
    bodies = nf_samples.weblog_bodies(nf_samples.FAIL, launch_dir)
    _stream(receiver, bodies[:-2] + bodies[-1:])  # `completed` lost
    fail = Run.filter(reference=nf_samples.FAIL).one()
    assert fail.status == "errored" and "weblog 'error'" in fail.error


def test_replayed_stream_records_nothing_twice(launch_dir, receiver):
    bodies = nf_samples.weblog_bodies(nf_samples.OK, launch_dir)
    _stream(receiver, bodies)
    before = snapshot(launch_dir)
    _stream(receiver, bodies)
    assert snapshot(launch_dir) == before and Run.filter().count() == 8


def test_live_resumed_run_takes_cached_tasks_from_the_trace(launch_dir, receiver):
    _stream(receiver, nf_samples.weblog_bodies(nf_samples.OK, launch_dir))
    nf_samples.build_resumed(launch_dir)
    _stream(receiver, nf_samples.resume_weblog(launch_dir))
    resumed = Run.filter(reference=nf_samples.RESUMED).one()
    cached = Run.filter(initiated_by_run=resumed).all()
    assert resumed.status == "completed" and len(cached) == 7 and {c.status for c in cached} == {"cached"}
    assert not receiver.warnings


def test_run_started_before_the_receiver(launch_dir, receiver):
    """Events of a run whose `started` was missed are recorded anyway, with one warning."""
    _stream(receiver, nf_samples.weblog_bodies(nf_samples.OK, launch_dir)[1:])
    run = Run.filter(reference=nf_samples.OK).one()
    assert run.status == "completed" and run.transform.name == "lineage-demo"
    assert Run.filter(initiated_by_run=run).count() == 7
    assert len(receiver.warnings) == 1 and "without its 'started'" in receiver.warnings[0]


def test_bad_requests_get_4xx_and_the_receiver_keeps_going(launch_dir, receiver):
    good = nf_samples.weblog_bodies(nf_samples.OK, launch_dir)
    assert post(receiver.url, good[0])[0] == 401  # no token
    assert post(receiver.url, good[0], "alice:wrong")[0] == 401
    assert post(receiver.url, good[0], headers={"Authorization": "Bearer nope"})[0] == 401
    status, answer = post(receiver.url, b"{broken", TOKEN)
    assert status == 400 and "not JSON" in json.loads(answer)["message"]
    status, answer = post(receiver.url, json.dumps({"event": "surprise", "runId": "a", "runName": "b"}), TOKEN)
    assert status == 400 and "unknown weblog event 'surprise'" in answer
    assert post(receiver.url, b"x" * (receiver.max_body + 1), TOKEN)[0] == 413
    with pytest.raises(urllib.error.HTTPError) as wrong_path:
        urllib.request.urlopen(receiver.url.rsplit("/", 1)[0] + "/nothing-here", timeout=10)
    assert wrong_path.value.code == 404
    method = urllib.request.Request(receiver.url, data=b"{}", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as wrong_method:
        urllib.request.urlopen(method, timeout=10)
    assert wrong_method.value.code == 405
    # a request without Content-Length, over a raw socket
    host, port = receiver.server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(b"POST /nextflow HTTP/1.0\r\nAuthorization: Basic YWxpY2U6czNjcmV0\r\n\r\n")
        assert b" 411 " in sock.recv(1024)
    _stream(receiver, good)  # still receiving, nothing lost
    assert Run.filter(reference=nf_samples.OK).one().status == "completed"
    assert Run.filter(reference_type="nextflow_task_hash").count() == 7


def test_receiver_binds_to_loopback_by_default():
    from flowledger_nextflow.receiver import Receiver

    receiver = Receiver(Recorder, port=0)
    try:
        assert receiver.server.server_address[0] == "127.0.0.1"
    finally:
        receiver.stop()


def test_hook_import_in_the_middle_of_the_stream(launch_dir, receiver):
    """The onComplete import runs before `completed` is sent: the stream then finds its tasks recorded."""
    bodies = nf_samples.weblog_bodies(nf_samples.OK, launch_dir)
    _stream(receiver, bodies[:8])  # started, 3 submitted, 3 started, 1 completed
    recorder = Recorder()
    [result] = import_launch_dir(recorder, launch_dir, nf_samples.OK)
    recorder.close()
    assert result.existing == 3 and result.recorded == 4  # TRIM x3 were started live
    _stream(receiver, bodies[8:])
    assert receiver.failed == 0 and not receiver.warnings
    run = Run.filter(reference=nf_samples.OK).one()
    tasks = Run.filter(initiated_by_run=run).all()
    assert run.status == "completed" and len(tasks) == 7 and {t.status for t in tasks} == {"completed"}
    assert all(t.inputs.count() >= 1 and t.outputs.count() >= 1 for t in tasks)


def test_retry_is_a_separate_task_run(launch_dir, receiver):
    """FAILED with error_action RETRY, then the new attempt under a new task id and work dir."""
    import shutil

    bodies = [json.loads(b) for b in nf_samples.weblog_bodies(nf_samples.FAIL, launch_dir)]
    failed_at = next(i for i, b in enumerate(bodies) if b.get("trace", {}).get("status") == "FAILED")
    bodies[failed_at]["trace"]["error_action"] = "RETRY"
    old = bodies[failed_at]["trace"]["workdir"]
    new = str(launch_dir / "work" / "ee" / "0123456789abcdef0123456789ab")
    shutil.copytree(old, new, symlinks=True)
    (launch_dir / "work" / "ee" / "0123456789abcdef0123456789ab" / "s3.count.txt").write_text("0\n")
    retry = []
    for kind, status in (
        ("process_submitted", "SUBMITTED"),
        ("process_started", "RUNNING"),
        ("process_completed", "COMPLETED"),
    ):
        trace = dict(
            bodies[failed_at]["trace"],
            task_id=7,
            attempt=2,
            hash="ee/012345",
            workdir=new,
            status=status,
            exit=0 if status == "COMPLETED" else 2147483647,
            error_action=None,
        )
        retry.append(dict(bodies[failed_at], trace=trace, event=kind))
    bodies = bodies[: failed_at + 1] + retry + bodies[failed_at + 1 :]
    _stream(receiver, [json.dumps(b) for b in bodies])
    attempts = Run.filter(transform__name="lineage-demo:COUNT", reference__in=["8c/a25c6b", "ee/012345"]).all()
    assert sorted((r.json["attempt"], r.status, r.exit_code) for r in attempts) == [
        (1, "errored", 1),
        (2, "completed", 0),
    ]
    assert [a.path for a in attempts[1].outputs.all()] == [f"{new}/s3.count.txt"]
