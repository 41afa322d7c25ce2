"""`flowledger nextflow serve`: an HTTP endpoint for nf-weblog that records runs while they happen.

One request at a time (HTTP/1.0, a short socket timeout), so events are queued in the order Nextflow
sent them; a worker thread records them. Loopback by default; with a token, requests must carry
`Authorization: Basic base64(token)` as nf-weblog sends it for `basicToken = 'token'`. Every bad request
gets a 4xx with a one-line reason and the server keeps going.
"""

from __future__ import annotations

import base64
import hmac
import json
import queue
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer

from flowledger.plugin_api import RecorderAPI, print_warning

from .errors import NextflowError
from .events import Event, parse_event
from .stream import EventStream

MAX_BODY = 8 * 1024 * 1024  # a `started` event with big params is tens of KB
DRAIN_LIMIT = 64 * 1024 * 1024
_STOP = object()


class _Handler(BaseHTTPRequestHandler):
    server_version = "flowledger-nextflow"
    timeout = 10

    def log_message(self, format: str, *args: object) -> None:  # quiet: the receiver warns per problem
        pass

    def _answer(self, code: int, message: str) -> None:
        body = json.dumps({"status": code, "message": message}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if code == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="flowledger"')
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("", "/health"):
            self._answer(200, "flowledger nextflow receiver: POST weblog events here")
        else:
            self._answer(404, f"no such resource {self.path!r}")

    def do_POST(self) -> None:
        receiver: Receiver = self.server.receiver  # type: ignore[attr-defined]
        if not receiver.authorized(self.headers.get("Authorization")):
            receiver.rejected += 1
            return self._answer(401, "missing or wrong token")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            receiver.rejected += 1
            return self._answer(411, "Content-Length required")
        if int(length) > receiver.max_body:
            receiver.rejected += 1
            self.close_connection = True
            self._discard(int(length))
            return self._answer(413, f"body of {length} bytes exceeds the limit of {receiver.max_body}")
        try:
            body = self.rfile.read(int(length))
        except OSError:
            receiver.rejected += 1
            return self._answer(400, "could not read the body")
        try:
            event = parse_event(body)
        except NextflowError as exc:
            receiver.rejected += 1
            receiver.warn(f"flowledger nextflow serve rejected a weblog request: {exc}")
            return self._answer(400, str(exc))
        receiver.queue.put(event)
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
    ) -> None:
        self.token = token
        self.max_body = max_body
        self.warn = warn or print_warning
        self.queue: queue.Queue[Event | object] = queue.Queue()
        self.accepted = self.rejected = self.failed = 0
        self._recorder_factory = recorder_factory
        self.server = HTTPServer((host, port), _Handler)
        self.server.receiver = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None
        self.stream: EventStream | None = None  # set by the worker
        self._worker = threading.Thread(target=self._work, name="flowledger-nextflow-worker", daemon=True)
        self._worker.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/nextflow"

    def authorized(self, header: str | None) -> bool:
        if not self.token:
            return True
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
