"""The one way flowledger warns a pipeline: one line on stderr, `WARNING: flowledger ...`, once.

Recording must never break or slow a pipeline, so its failures become one warning and the pipeline goes
on. Every plugin and the background recorder share this helper, so the prefix and the wording are one.
"""

import sys
import threading
from collections.abc import Callable

PREFIX = "WARNING: "


def print_warning(message: str) -> None:
    """One line on stderr with the one prefix (for warnings that are not about a failed recording)."""
    print(f"{PREFIX}{message}", file=sys.stderr, flush=True)


def recording_failed(problem: str) -> str:
    """The sentence a pipeline's user sees when recording fails: what failed, and that nothing else did."""
    return (
        f"flowledger could not record lineage ({problem}); the pipeline is not affected, and what was "
        "recorded before stays in the ledger. Further recording errors are not shown."
    )


class WarnOnce:
    """Passes the first message to `sink` (default: `print_warning`) and drops the rest; thread-safe."""

    def __init__(self, sink: Callable[[str], None] | None = None) -> None:
        self._sink = sink or print_warning
        self._lock = threading.Lock()
        self.warned = False

    def __call__(self, message: str) -> None:
        with self._lock:
            if self.warned:
                return
            self.warned = True
        self._sink(message)

    def failed(self, what: str, error: BaseException) -> None:
        """Warn (once) that recording `what` failed with `error`."""
        self(recording_failed(f"{what}: {type(error).__name__}: {error}" if what else f"{error}"))
