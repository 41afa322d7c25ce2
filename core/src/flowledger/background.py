"""Recording off the pipeline's thread: calls return at once, a worker hashes and writes in batches.

The worker takes whatever has queued up since its last commit and writes it in one transaction, so a
burst of 1,000 jobs costs a handful of commits. If the ledger fails, the pipeline is told once (one
warning) and goes on; every batch committed before the failure stays.
"""

import queue
import sys
import threading
import time

from .recorder import FINAL_STATUSES, Recorder, TransformSpec
from .ids import new_uid

MAX_BATCH = 500
LINGER_S = 0.05  # after the first queued call, wait this long for more, so a trickle still shares commits
_STOP = object()


class BackgroundRecorder:
    """The Recorder's contract, asynchronous. Call `close()` at the end to flush and wait.

    `warn` receives the one warning (default: printed to stderr); a plugin passes its own to route it
    through the workflow manager's logging or to share one warning with its own errors.
    """

    def __init__(self, db=None, *, warn=None, name: str = "flowledger-recorder"):
        self._db = db
        self._warn = warn or _print_warning
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._recorder: Recorder | None = None
        self.failures = 0
        self._warned = False
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    # ---- the contract (returns at once) ----------------------------------------------------------
    def start_run(self, transform: TransformSpec, *, uid=None, **fields) -> str:
        uid = uid or new_uid(16)
        self._put("start_run", transform, uid=uid, **fields)
        return uid

    def record_job(self, transform: TransformSpec, *, uid=None, **fields) -> str:
        uid = uid or new_uid(16)
        self._put("record_job", transform, uid=uid, **fields)
        return uid

    def finish_run(self, uid: str, **fields) -> None:
        self._put("finish_run", uid, **fields)

    def add_inputs(self, uid: str, paths) -> None:
        self._put("add_inputs", uid, list(paths))

    def add_outputs(self, uid: str, paths) -> None:
        self._put("add_outputs", uid, list(paths))

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything queued so far is written (or given up)."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush and stop; False if `timeout` ran out first (the ledger locked for long, say)."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ---- the worker --------------------------------------------------------------------------
    def _put(self, method: str, *args, **kwargs) -> None:
        if self._closed:
            self._fail(f"{method} called after close(); not recorded")
            return
        self._queue.put((method, args, kwargs))

    def _work(self) -> None:
        stop = False
        while not stop:
            batch, waiters = [], []
            item = self._queue.get()
            deadline = time.monotonic() + LINGER_S
            while True:
                if item is _STOP:
                    stop = True
                elif isinstance(item, threading.Event):
                    waiters.append(item)
                else:
                    batch.append(item)
                if stop or waiters or len(batch) >= MAX_BATCH:
                    break  # flush() and close() do not wait for the window
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
            if batch:
                self._write(batch)
            for waiter in waiters:
                waiter.set()
        if self._recorder is not None:
            self._recorder.close()

    def _write(self, batch: list) -> None:
        recorder = self._open()
        if recorder is None:
            self.failures += len(batch)
            return
        try:
            prepared = [self._prepare(recorder, item) for item in batch]
            with recorder.ledger.write() as conn:
                for item, ready in zip(batch, prepared):
                    self._apply(recorder, conn, item, ready)
        except Exception:
            self._write_one_by_one(recorder, batch)

    def _write_one_by_one(self, recorder: Recorder, batch: list) -> None:
        """A batch failed: keep every record that can still be written, warn about the rest."""
        for method, args, kwargs in batch:
            try:
                getattr(recorder, method)(*args, **kwargs)
            except Exception as error:  # recording must never reach the pipeline
                self.failures += 1
                self._fail(f"{method} failed: {error}")

    def _prepare(self, recorder: Recorder, item):
        method, args, kwargs = item
        if method == "record_job":
            return recorder.prepare(inputs=kwargs.get("inputs", ()), outputs=kwargs.get("outputs", ()),
                                    logs=kwargs.get("logs", ()), environment=kwargs.get("environment"))
        return None

    def _apply(self, recorder: Recorder, conn, item, prepared) -> None:
        method, args, kwargs = item
        if method == "record_job":
            fields = {k: v for k, v in kwargs.items() if k not in ("inputs", "outputs", "logs", "environment")}
            run_id, _, links = recorder.write_job(conn, args[0], prepared, **fields)
            recorder._notify(run_id, links, started=True,
                             finished=kwargs.get("status", "completed") in FINAL_STATUSES)
        else:
            getattr(recorder, method)(*args, **kwargs)  # joins the open transaction

    def _open(self) -> Recorder | None:
        if self._recorder is None:
            try:
                self._recorder = Recorder(self._db)
            except Exception as error:
                self._fail(str(error))
        return self._recorder

    def _fail(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            self._warn(f"flowledger could not record lineage ({message}); the pipeline is not affected, "
                       "and what was recorded before stays in the ledger. Further recording errors are not shown.")


def _print_warning(message: str) -> None:
    print(f"WARNING: {message}", file=sys.stderr, flush=True)
