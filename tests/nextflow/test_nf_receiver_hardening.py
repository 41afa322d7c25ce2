"""The receiver under attack and load, all on 127.0.0.1: forged events, files outside a run's work dir,
slow clients, 200 concurrent posts, a full queue, and malformed requests (each a 4xx and one log line)."""

import json
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nf_samples
import pytest
from flowledger.models import Artifact, Run
from flowledger.plugin_api import Recorder
from flowledger_nextflow.receiver import Receiver
from flowledger_nextflow.task import Task
from flowledger_nextflow.workdir import read_task_files
from nf_support import post

TOKEN = "alice:s3cret"
SECRET = "top secret: do not record"


def _stream(receiver, bodies):
    for body in bodies:
        status, answer = post(receiver.url, body, TOKEN)
        assert status == 200, answer
    receiver.wait_idle()


def _secret(tmp_path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET + "\n")
    path.chmod(0o600)
    return path


def _everything_recorded() -> str:
    return json.dumps(
        [(r.reference, r.error, r.json) for r in Run.filter().all()] + [a.path for a in Artifact.filter().all()],
        default=str,
    )


@pytest.fixture
def slow_receiver():
    warnings = []
    started = Receiver(Recorder, token=TOKEN, warn=warnings.append, request_timeout=2).start()
    started.warnings = warnings
    yield started
    started.stop()


def test_symlinked_command_files_outside_the_work_dir_are_not_read(launch_dir, receiver, tmp_path):
    secret = _secret(tmp_path)
    for wd in (launch_dir / "work").glob("*/*"):
        for name in (".command.err", ".command.sh"):
            (wd / name).unlink(missing_ok=True)
            (wd / name).symlink_to(secret)
    _stream(receiver, nf_samples.weblog_bodies(nf_samples.FAIL, launch_dir))
    assert Run.filter(reference=nf_samples.FAIL).one().status == "errored"
    assert SECRET not in _everything_recorded()
    wd = next((launch_dir / "work").glob("*/*"))
    _, files = read_task_files(Task(task_id=1, name="T", status="FAILED", exit=1, workdir=str(wd)), None)
    assert files.script is None and files.error is None


def test_outputs_outside_the_work_dir_are_not_recorded(launch_dir, receiver):
    for run_file in (launch_dir / "work").glob("*/*/.command.run"):
        text = run_file.read_text().replace(
            "### outputs:\n",
            "### outputs:\n### - '/etc/passwd'\n### - '../../../../../../../../etc/passwd'\n### - 'leak*'\n",
        )
        run_file.write_text(text)
        (run_file.parent / "leak.txt").symlink_to("/etc/passwd")
    _stream(receiver, nf_samples.weblog_bodies(nf_samples.OK, launch_dir))
    assert Run.filter(reference=nf_samples.OK).one().status == "completed"
    assert Run.filter(reference_type="nextflow_task_hash").count() == 7
    assert not [a.path for a in Artifact.filter().all() if "passwd" in a.path or "leak" in a.path]


def test_forged_events_for_another_run_are_refused(launch_dir, receiver):
    _stream(receiver, nf_samples.weblog_bodies(nf_samples.OK, launch_dir))
    _stream(receiver, nf_samples.weblog_bodies(nf_samples.FAIL, launch_dir)[:1])  # FAIL's `started` only
    ok, fail = nf_samples.OK, nf_samples.FAIL
    for run_name, run_id in [(ok, nf_samples.SESSIONS[fail]), (fail, nf_samples.SESSIONS[ok])]:
        forged = json.dumps({"runId": run_id, "event": "error", "runName": run_name, "utcTime": "2026-07-20T10:00:00Z"})
        status, answer = post(receiver.url, forged, TOKEN)
        assert status == 409 and "bound to another runId" in answer
    # a task of the OK run whose work dir is elsewhere
    body = json.loads(nf_samples.weblog_bodies(ok, launch_dir)[-2])
    body["trace"]["workdir"] = "/etc"
    status, answer = post(receiver.url, json.dumps(body), TOKEN)
    assert status == 409 and "not inside the work dir" in answer
    receiver.wait_idle()
    assert Run.filter(reference=ok).one().status == "completed"
    assert Run.filter(reference=fail).one().status == "started"


def test_completed_with_an_output_dir_outside_the_launch_dir_is_not_walked(launch_dir, receiver):
    bodies = nf_samples.weblog_bodies(nf_samples.OK, launch_dir)
    completed = json.loads(bodies[-1])
    completed["metadata"]["workflow"]["outputDir"] = "/usr"
    _stream(receiver, [*bodies[:-1], json.dumps(completed)])
    assert Run.filter(reference=nf_samples.OK).one().status == "completed"
    assert any("/usr is outside its launch dir" in w for w in receiver.warnings), receiver.warnings
    assert not [a.path for a in Artifact.filter().all() if a.path.startswith("/usr/")]


def _slow_client(port: int, sent: list, answers: list, payload: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            for byte in payload:
                sock.sendall(bytes([byte]))
                sent.append(1)
                time.sleep(1)
        except OSError:
            pass
        try:
            answers.append(sock.recv(1024))
        except OSError as exc:
            answers.append(repr(exc).encode())


def test_slow_clients_neither_block_others_nor_stay_forever(launch_dir, slow_receiver):
    port = slow_receiver.server.server_address[1]
    auth = b"Authorization: Basic YWxpY2U6czNjcmV0\r\n"
    payloads = [
        b"POST /nextflow HTTP/1.1\r\n" + auth + b"Content-Length: 10\r\n\r\n",  # headers, a byte a second
        b"POST /nextflow HTTP/1.1\r\n" + auth + b"Content-Length: 10\r\n\r\n",
    ]
    sent: list = []
    answers: list = []
    threads = [threading.Thread(target=_slow_client, args=(port, sent, answers, p)) for p in payloads]
    # and one that sends its headers but stalls in the body
    stalled = socket.create_connection(("127.0.0.1", port), timeout=10)
    stalled.sendall(b"POST /nextflow HTTP/1.1\r\n" + auth + b"Content-Length: 100\r\n\r\n{")
    for thread in threads:
        thread.start()
    began = time.monotonic()
    _stream(slow_receiver, nf_samples.weblog_bodies(nf_samples.OK, launch_dir))  # meanwhile: served
    assert time.monotonic() - began < 10
    assert Run.filter(reference=nf_samples.OK).one().status == "completed"
    for thread in threads:
        thread.join(timeout=15)
    assert len(answers) == 2 and all(b" 408 " in a for a in answers), answers
    assert len(sent) < 10  # cut off after about request_timeout seconds, not after the whole request
    with stalled:
        assert b" 408 " in stalled.recv(1024)
    assert sum("408" in w for w in slow_receiver.warnings) == 3


def _started_body(run_name: str, run_id: str) -> str:
    body = json.loads(nf_samples.weblog_bodies(nf_samples.OK, "/home/alice/demo")[0])
    body["runName"], body["runId"] = run_name, run_id
    body["metadata"]["workflow"].update(runName=run_name, sessionId=run_id)
    return json.dumps(body)


def test_200_concurrent_posts_are_all_recorded(receiver):
    bodies = [_started_body(f"run_{i}", str(uuid.uuid4())) for i in range(200)]
    barrier = threading.Barrier(50)

    def send(body):
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        return post(receiver.url, body, TOKEN)[0]

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(send, bodies))
    assert statuses == [200] * 200
    receiver.wait_idle()
    assert Run.filter(reference_type="nextflow_id").count() == 200 and receiver.failed == 0


def test_a_full_queue_answers_503(tmp_path):
    release = threading.Event()

    def blocked_recorder():
        release.wait(timeout=30)
        return Recorder()

    warnings: list = []
    receiver = Receiver(blocked_recorder, token=TOKEN, warn=warnings.append, max_queue=1).start()
    try:
        assert post(receiver.url, _started_body("a_run", str(uuid.uuid4())), TOKEN)[0] == 200
        second = _started_body("b_run", str(uuid.uuid4()))
        status, answer = post(receiver.url, second, TOKEN)
        assert status == 503 and "retry" in answer
        release.set()
        receiver.wait_idle()
        assert post(receiver.url, second, TOKEN)[0] == 200  # the client's retry
        receiver.wait_idle()
    finally:
        release.set()
        receiver.stop()
    assert Run.filter(reference_type="nextflow_id").count() == 2


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        return sock.recv(4096)


def test_every_bad_request_gets_a_4xx_and_one_line(receiver, capfd):
    port = receiver.server.server_address[1]
    auth = b"Authorization: Basic YWxpY2U6czNjcmV0\r\n"
    nested = b"[" * 100_000 + b"]" * 100_000
    manifest = json.loads(_started_body("m_run", str(uuid.uuid4())))
    manifest["metadata"]["workflow"]["manifest"] = "not an object"
    cases = [
        (nested, 400, "nested too deeply"),
        (json.dumps(manifest).encode(), 400, "'workflow.manifest' is not an object"),
        (b'{"event": "started", "runId": 1, "runName": []}', 400, "lacks 'runId'"),
    ]
    for body, code, reason in cases:
        before = len(receiver.warnings)
        status, answer = post(receiver.url, body, TOKEN)
        assert status == code and reason in answer, answer
        assert len(receiver.warnings) == before + 1 and "\n" not in receiver.warnings[-1]
    for request, code in [
        (b"POST /nextflow HTTP/1.1\r\n" + auth + b"Content-Length: \xb2\r\n\r\n", 411),
        (b"POST /nextflow HTTP/1.1\r\n" + auth + b"Content-Length: -5\r\n\r\n", 411),
        (b"POST /nextflow HTTP/1.1\r\n" + auth + b"Content-Length: 99999999999999999999999\r\n\r\n", 411),
        (b"GARBAGE\r\n\r\n", 400),
    ]:
        before = len(receiver.warnings)
        answer = _raw(port, request)
        assert f" {code} ".encode() in answer.split(b"\r\n")[0], (request, answer)
        assert len(receiver.warnings) == before + 1, receiver.warnings
    assert post(receiver.url, _started_body("ok_run", str(uuid.uuid4())), TOKEN)[0] == 200  # still alive
    receiver.wait_idle()
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    assert Run.filter(reference="ok_run").count() == 1 and Run.filter(reference="m_run").count() == 0


def test_the_receiver_always_has_a_token():
    receiver = Receiver(Recorder, port=0).start()
    try:
        assert receiver.token and len(receiver.token) > 20
        status, _ = post(receiver.url, _started_body("x_run", str(uuid.uuid4())))
        assert status == 401
    finally:
        receiver.stop()
    assert os.environ.get("FLOWLEDGER_DB")
