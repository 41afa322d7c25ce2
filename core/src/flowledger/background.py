"""Recording off the pipeline's thread: calls return at once, a worker hashes and writes in batches.

The worker takes whatever has queued up since its last commit and writes it in one transaction, so a
burst of 1,000 jobs costs a handful of commits. It runs at a lower CPU priority than the pipeline, so
hashing large outputs does not compete with the jobs for the cores; large outputs that queued up together
are hashed side by side (`Hasher.warm`, its threads as low), so the end of a pipeline, which waits for
them, uses every core. If the ledger fails, the pipeline
is told once (one warning) and goes on; every batch committed before the failure stays.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from .calls import CallRecorder
from .contract import Call, PathLike, RunInfo
from .recorder import Recorder
from .warn import WarnOnce

MAX_BATCH = 500
LINGER_S = 0.05  # after the first queued call, wait this long for more, so a trickle still shares commits
NICENESS = 10  # added to the worker thread's nice value (Linux threads have their own)


@dataclass
class _Flush:
    """A marker in the queue: set when everything queued before it is written."""

    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Stop:
    """The last item in the queue."""


class BackgroundRecorder(CallRecorder):
    """`RecorderAPI`, asynchronous and never raising. Call `close()` at the end to flush and wait.

    The worker thread starts, and the ledger opens, on the first call: an invocation that records nothing
    never touches the ledger. `warn` receives the one warning (default: printed to stderr); a plugin passes
    its own `WarnOnce` to share one warning with its own errors.
    """

    def __init__(
        self,
        db: PathLike | None = None,
        *,
        warn: Callable[[str], None] | None = None,
        name: str = "flowledger-recorder",
    ):
        self._db = db
        self.warn = warn if isinstance(warn, WarnOnce) else WarnOnce(warn)
        self._queue: queue.SimpleQueue[Call | _Flush | _Stop] = queue.SimpleQueue()
        self._recorder: Recorder | None = None
        self._name = name
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.failures = 0
        self._closed = False

    # ---- the contract (returns at once) ----------------------------------------------------------
    def submit(self, call: Call) -> None:
        if self._closed:
            self.failures += 1
            self.warn.failed(f"{type(call).__name__} after close()", RuntimeError("not recorded"))
            return
        self._start()
        self._queue.put(call)

    def submit_all(self, calls: Sequence[Call], on_error: Callable[[Call, Exception], None]) -> None:
        """Queued like any call (the worker batches them); failures reach the one warning, not `on_error`."""
        for call in calls:
            self.submit(call)

    @contextlib.contextmanager
    def batch(self) -> Iterator[object]:
        """Calls are batched into transactions already; this only groups them for the reader."""
        yield self

    def find_run(self, *, reference: str, reference_type: str) -> str | None:
        return self._read(lambda recorder: recorder.find_run(reference=reference, reference_type=reference_type), None)

    def get_run(self, uid: str) -> RunInfo | None:
        return self._read(lambda recorder: recorder.get_run(uid), None)

    def runs_under(self, uid: str) -> list[RunInfo]:
        return self._read(lambda recorder: recorder.runs_under(uid), [])

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is written (or given up); False if `timeout` ran out."""
        if self._thread is None:
            return True
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush and stop; False if `timeout` ran out first (the ledger locked for long, say)."""
        if not self._closed:
            self._closed = True
            if self._thread is not None:
                self._queue.put(_Stop())
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ---- the worker --------------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
                    self._thread.start()

    def _read(self, query, default):
        """A query, after what is queued so far is written (it may be what the query looks for)."""
        self.flush()
        recorder = self._recorder or self._open()
        if recorder is None:
            return default
        try:
            return query(recorder)
        except Exception as error:  # a plugin's question must not break the pipeline either
            self.warn.failed("reading the ledger", error)
            return default

    def _work(self) -> None:
        _lower_priority()
        stop = False
        while not stop:
            batch: list[Call] = []
            flushes: list[_Flush] = []
            item = self._queue.get()
            deadline = time.monotonic() + LINGER_S
            while True:
                if isinstance(item, _Stop):
                    stop = True
                elif isinstance(item, _Flush):
                    flushes.append(item)
                else:
                    batch.append(item)
                if stop or flushes or len(batch) >= MAX_BATCH:
                    break  # flush() and close() do not wait for the window
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
            if batch:
                self._write(batch)
            for flush in flushes:
                flush.done.set()
        if self._recorder is not None:
            self._recorder.close()

    def _write(self, batch: list[Call]) -> None:
        recorder = self._open()
        if recorder is None:
            self.failures += len(batch)
            return
        recorder.submit_all(batch, self._failed)

    def _failed(self, call: Call, error: Exception) -> None:
        self.failures += 1
        self.warn.failed(type(call).__name__, error)  # recording must never reach the pipeline

    def _open(self) -> Recorder | None:
        if self._recorder is None:
            try:
                self._recorder = Recorder(self._db)
            except Exception as error:
                self.warn.failed("", error)
        return self._recorder


def _lower_priority() -> None:
    """Let the pipeline's own processes have the cores first: hashing is the recorder's heaviest work."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
    except (AttributeError, OSError):  # not Linux, or not allowed: run at the usual priority
        pass
