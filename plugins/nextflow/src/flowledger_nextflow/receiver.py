"""`flowledger nextflow serve`: an HTTP endpoint for nf-weblog that records runs while they happen.

What it guarantees:

- a token always: without one, a random token is made (`Authorization: Basic base64(token)`, as nf-weblog
  sends it for `basicToken = 'token'`); loopback by default;
- clients are served concurrently (a thread each, at most `max_clients` at once, more get 503), each
  request must arrive whole within `request_timeout` seconds (else 408), bodies over `max_body` get 413,
  and accepted events wait in a bounded queue (full: 503 with Retry-After) for the one worker thread that
  records them in the order they were accepted;
- the first event of a run binds its runId, work dir and launch dir: a later event for that run name with
  another runId or dirs, or a task whose work dir is not inside the run's work dir, gets 409;
- every bad request gets a 4xx with a one-line reason and one warning line; the server keeps going.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import queue
import secrets
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flowledger.plugin_api import RecorderAPI, print_warning

from .errors import NextflowError
from .events import Event, parse_event
from .stream import EventStream

MAX_BODY = 1024 * 1024  # a `started` event with big params is tens of KB
DRAIN_LIMIT = 16 * 1024 * 1024
MAX_QUEUE = 10_000  # accepted events waiting to be recorded
MAX_CLIENTS = 256  # connections served at once
MAX_RUNS = 10_000  # runs bound by one receiver
REQUEST_TIMEOUT = 15.0  # seconds for a whole request (headers and body)
_STOP = object()


def _raw_answer(code: int, reason: str, message: str, extra: str = "") -> bytes:
    body = json.dumps({"status": code, "message": message}).encode()
    head = (
        f"HTTP/1.0 {code} {reason}\r\nServer: flowledger-nextflow\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n"
    )
    return head.encode() + body


def new_token() -> str:
    """A token for `basicToken` (nf-weblog wants `USER:PASS`)."""
    return "flowledger:" + secrets.token_urlsafe(24)


class _Handler(BaseHTTPRequestHandler):
    server_version = "flowledger-nextflow"
    timeout = 5  # per read; `request_timeout` bounds the whole request

    def setup(self) -> None:
        super().setup()
        self._answered = False
        self._lock = threading.Lock()
        receiver: Receiver = self.server.receiver  # type: ignore[attr-defined]
        self._timer = threading.Timer(receiver.request_timeout, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def finish(self) -> None:
        self._timer.cancel()
        try:
            super().finish()
        except OSError:
            pass

    def _claim(self) -> bool:
        """True once: whoever answers first (the handler or the deadline)."""
        with self._lock:
            if self._answered:
                return False
            self._answered = True
            return True

    def _expire(self) -> None:
        """The whole request did not arrive in time (a slow or stalled client): 408, then close."""
        if not self._claim():
            return
        receiver: Receiver = self.server.receiver  # type: ignore[attr-defined]
        receiver.reject(self.client_address[0], 408, f"request not complete after {receiver.request_timeout:g} s")
        try:
            self.connection.sendall(_raw_answer(408, "Request Timeout", "request took too long"))
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:  # quiet: the receiver warns per problem
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The request line or headers could not be parsed (http.server's own 4xx): one line, one answer."""
        if not self._claim():
            self.close_connection = True
            return
        receiver: Receiver = self.server.receiver  # type: ignore[attr-defined]
        receiver.reject(self.client_address[0], code, message or "bad request")
        self._answered = False  # let super() write its answer
        try:
            super().send_error(code, message, explain)
        finally:
            self._answered = True

    def _answer(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        if not self._claim():
            self.close_connection = True
            return
        if code >= 400:
            self.server.receiver.reject(self.client_address[0], code, message)  # type: ignore[attr-defined]
        body = json.dumps({"status": code, "message": message}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if code == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="flowledger"')
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("", "/health"):
            self._answer(200, "flowledger nextflow receiver: POST weblog events here")
        else:
            self._answer(404, f"no such resource {self.path[:200]!r}")

    def do_POST(self) -> None:
        receiver: Receiver = self.server.receiver  # type: ignore[attr-defined]
        if not receiver.authorized(self.headers.get("Authorization")):
            return self._answer(401, "missing or wrong token")
        length = self.headers.get("Content-Length")
        if length is None or not (length.isascii() and length.isdigit()) or len(length) > 18:
            self.close_connection = True
            return self._answer(411, "Content-Length required (a decimal number)")
        size = int(length)
        if size > receiver.max_body:
            self.close_connection = True
            self._discard(size)
            return self._answer(413, f"body of {size} bytes exceeds the limit of {receiver.max_body}")
        try:
            body = self.rfile.read(size)
        except OSError:
            body = b""
        if len(body) != size:
            self.close_connection = True
            return self._answer(400, f"body ended after {len(body)} of {size} bytes")
        try:
            event = parse_event(body)
        except NextflowError as exc:
            return self._answer(400, str(exc))
        problem = receiver.bind(event)
        if problem:
            return self._answer(409, problem)
        try:
            receiver.queue.put_nowait(event)
        except queue.Full:
            return self._answer(503, "too many events waiting to be recorded; retry later", {"Retry-After": "1"})
        receiver.accepted += 1
        self._answer(200, "ok")

    def _discard(self, length: int) -> None:
        """Read (and drop) a moderately oversized body, so the client sees the 413, not a reset."""
        left = min(length, DRAIN_LIMIT)
        try:
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass

    def _not_allowed(self) -> None:
        self._answer(405, f"method {self.command} not allowed: POST weblog events")

    do_PUT = do_DELETE = do_PATCH = _not_allowed


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # the listen backlog

    def __init__(self, address: tuple[str, int], receiver: Receiver) -> None:
        self.receiver = receiver
        self._slots = threading.BoundedSemaphore(receiver.max_clients)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):  # too many at once: answer now, in this thread
            self.receiver.reject(client_address[0], 503, "too many clients at once")
            try:
                request.settimeout(1)
                request.sendall(_raw_answer(503, "Service Unavailable", "too many clients", "Retry-After: 1\r\n"))
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke mid-request: one line, no traceback."""
        exc = sys.exc_info()[1]
        self.receiver.warn(f"flowledger nextflow serve: a request from {client_address[0]} failed: {exc!r}"[:500])


@dataclass
class _Binding:
    run_id: str
    work_dir: str | None
    launch_dir: str | None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _absolute(value: object) -> str | None:
    return os.path.normpath(value) if isinstance(value, str) and os.path.isabs(value) else None


class Receiver:
    """A weblog receiver; `start()` serves in a thread, `serve_forever()` in this one; `stop()` drains."""

    def __init__(
        self,
        recorder_factory: Callable[[], RecorderAPI],
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        max_body: int = MAX_BODY,
        warn: Callable[[str], None] | None = None,
        *,
        max_queue: int = MAX_QUEUE,
        max_clients: int = MAX_CLIENTS,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.token = token or new_token()  # never without one
        self.max_body = max_body
        self.max_clients = max_clients
        self.request_timeout = request_timeout
        self.warn = warn or print_warning
        self.queue: queue.Queue[Event | object] = queue.Queue(maxsize=max_queue)
        self.accepted = self.rejected = self.failed = 0
        self._runs: dict[str, _Binding] = {}
        self._lock = threading.Lock()
        self._recorder_factory = recorder_factory
        self.server = _Server((host, port), self)
        self._thread: threading.Thread | None = None
        self.stream: EventStream | None = None  # set by the worker
        self._worker = threading.Thread(target=self._work, name="flowledger-nextflow-worker", daemon=True)
        self._worker.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/nextflow"

    def reject(self, client: str, code: int, reason: str) -> None:
        """Count a bad request and say so in one line."""
        with self._lock:
            self.rejected += 1
        line = " ".join(f"flowledger nextflow serve: {code} to {client}: {reason}".split())
        self.warn(line[:500])

    def bind(self, event: Event) -> str | None:
        """Tie a run name to the runId and dirs of its first event; why `event` does not match, or None."""
        wf = event.workflow.raw if event.workflow else {}
        work, launch = _absolute(wf.get("workDir")), _absolute(wf.get("launchDir"))
        task_dir = _absolute(event.task.workdir) if event.task and event.task.workdir else None
        if event.task and event.task.workdir and task_dir is None:
            return f"task work dir {event.task.workdir[:200]!r} is not an absolute path"
        with self._lock:
            bound = self._runs.get(event.run_name)
            if bound is None:
                if len(self._runs) >= MAX_RUNS:
                    return f"this receiver already follows {MAX_RUNS} runs"
                guessed = os.path.dirname(os.path.dirname(task_dir)) if task_dir else None
                bound = _Binding(event.run_id, work or guessed, launch)
                self._runs[event.run_name] = bound
            if bound.run_id != event.run_id:
                return f"run {event.run_name!r} is bound to another runId"
            for name, given, have in (("workDir", work, bound.work_dir), ("launchDir", launch, bound.launch_dir)):
                if given and have and given != have:
                    return f"run {event.run_name!r} is bound to another {name}"
            bound.work_dir = bound.work_dir or work
            bound.launch_dir = bound.launch_dir or launch
            if (
                task_dir
                and bound.work_dir
                and not _inside(os.path.realpath(task_dir), os.path.realpath(bound.work_dir))
            ):
                return f"task work dir is not inside the work dir of run {event.run_name!r}"
        return None

    def authorized(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            expected = base64.b64encode(self.token.encode()).decode()
            return hmac.compare_digest(value.strip(), expected)
        if scheme.lower() == "bearer":
            return hmac.compare_digest(value.strip(), self.token)
        return False

    def _work(self) -> None:
        recorder = self._recorder_factory()
        self.stream = stream = EventStream(recorder, warn=self.warn)
        try:
            while True:
                event = self.queue.get()
                if not isinstance(event, Event):  # _STOP
                    self.queue.task_done()
                    return
                try:
                    stream.handle(event)
                except Exception as exc:  # a recording failure never stops the receiver
                    self.failed += 1  # (a rolled-back Recorder forgets its cached ids itself)
                    self.warn(
                        f"flowledger could not record the weblog event {event.kind!r} of Nextflow run "
                        f"{event.run_name!r}: {exc}"
                    )
                finally:
                    self.queue.task_done()
        finally:
            try:
                recorder.close()
            except Exception:
                pass

    def wait_idle(self) -> None:
        """Block until every accepted event is recorded."""
        self.queue.join()

    def start(self) -> Receiver:
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), name="flowledger-nextflow-http", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self.server.serve_forever()
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop listening, record what is queued, close the ledger."""
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join()
            self._thread = None
        self.server.server_close()
        if self._worker.is_alive():
            self.queue.put(_STOP)
            self._worker.join()
