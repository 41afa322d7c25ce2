"""The recorder as the Snakemake plugin uses it: never raises, warns once.

The pipeline comes first (DESIGN.md, "Never break or slow the user's pipeline"): whatever goes wrong
with the ledger (locked, read-only, corrupt, disk full, a bug here) becomes one warning on stderr, the
workflow runs on, and what was already written stays. Writes go through the core's
`BackgroundRecorder` so hashing large outputs never runs on Snakemake's scheduling thread.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable

PREFIX = "WARNING:"


class Warner:
    """Prints at most one warning per Snakemake invocation, shared with the core's background writer."""

    def __init__(self, stream: Any = None) -> None:
        self._lock = threading.Lock()
        self.warned = False
        self._stream = stream

    def warn(self, message: str) -> None:
        with self._lock:
            if self.warned:
                return
            self.warned = True
        print(f"{PREFIX} {message}", file=self._stream or sys.stderr, flush=True)

    def warn_error(self, what: str, error: BaseException) -> None:
        self.warn(f"{what} ({type(error).__name__}: {error}); the workflow is not affected, and what was "
                  "recorded before stays in the ledger. Further recording errors are not shown.")


def default_factory(db: str | None, warn: Callable[[str], None]) -> Any:
    """The core's BackgroundRecorder, warning through `warn`."""
    from flowledger.plugin_api import BackgroundRecorder

    return BackgroundRecorder(db=db, warn=warn)


class SafeRecorder:
    """The recorder methods the tracker needs; the first failure warns and turns later calls into no-ops.

    The recorder is opened on first use, so an invocation that records nothing (dry run, up to date)
    never touches the ledger.
    """

    def __init__(self, db: str | None = None, *, warner: Warner | None = None,
                 factory: Callable[[str | None, Callable[[str], None]], Any] = default_factory) -> None:
        self.db = db
        self.warner = warner or Warner()
        self._factory = factory
        self._recorder: Any = None
        self.failed = False

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.failed:
            return None
        try:
            if self._recorder is None:
                self._recorder = self._factory(self.db, self.warner.warn)
            return getattr(self._recorder, method)(*args, **kwargs)
        except Exception as error:  # the pipeline must never see it
            self.failed = True
            self.warner.warn_error(f"flowledger could not record lineage ({method})", error)
            return None

    def start_run(self, *args: Any, **kwargs: Any) -> str | None:
        return self._call("start_run", *args, **kwargs)

    def finish_run(self, *args: Any, **kwargs: Any) -> None:
        self._call("finish_run", *args, **kwargs)

    def record_job(self, *args: Any, **kwargs: Any) -> str | None:
        return self._call("record_job", *args, **kwargs)

    def close(self, timeout: float | None = None) -> None:
        """Flush and wait, at most `timeout` seconds (a ledger locked for long must not hold Snakemake)."""
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        try:
            finished = recorder.close(timeout=timeout)
        except Exception as error:
            self.warner.warn_error("flowledger could not finish writing the ledger", error)
            return
        if not finished:
            self.warner.warn(f"flowledger gave up waiting for the ledger {self.db or ''} after {timeout:g} s "
                             "(locked by another process, or slow to hash); the workflow is not affected, and "
                             "the records written before stay. Further recording errors are not shown.")
