"""What a spawned job's child process printed on stderr: the traceback of a failed `run:` block.

Snakemake runs `run:` blocks (and `shadow:` jobs) in a child `python -m snakemake` (its local executor's
`spawn_job`), which prints the block's traceback to the console and exits 1; the parent, where this plugin
lives, only learns that the child failed (`SpawnedJobError`). So `keep_child_stderr()` replaces
`spawn_job` with the same five lines plus a tee: the child's stderr still reaches the console as it comes,
and its last 64 KiB ride on the `SpawnedJobError`, where the tracker's stack probe finds the exception.
Private Snakemake API (8 and 9): `tests/snakemake/test_canary.py` names it.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from typing import Any

KEEP_BYTES = 64 * 1024
ATTRIBUTE = "flowledger_stderr"  # set on the SpawnedJobError: the child's stderr, its last KEEP_BYTES
_PATCHED = "_flowledger_keeps_stderr"
_READER_GRACE_S = 1.0  # after the child exits, how long to wait for a grandchild holding its stderr open

# The child's own report of the failure: from the exception's name ("RuleException:", "KeyError ...:")
# up to Snakemake's next line of its own (a timestamp, "Error in rule", "Exiting because", "Shutting down").
_FAILURE_START = re.compile(r"^(RuleException|[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit))\b.*:?\s*$")
_SNAKEMAKE_LINE = re.compile(r"^(\[\w{3} \w{3} +\d+ [\d:]+ \d{4}\]|Error in rule |Exiting because |Shutting down)")


def keep_child_stderr() -> bool:
    """Install the tee on Snakemake's local executor (once); False when Snakemake's shape is not as known."""
    try:
        from snakemake.exceptions import SpawnedJobError
        from snakemake.executors.local import Executor
        from snakemake.logging import logger
    except Exception:
        return False
    original = getattr(Executor, "spawn_job", None)
    if original is None or not hasattr(Executor, "format_job_exec"):
        return False
    if getattr(original, _PATCHED, False):
        return True

    def spawn_job(self: Any, job: Any) -> None:
        command = self.format_job_exec(job)
        logger.debug(f"spawned job: {command}")
        run_and_keep_stderr(command, SpawnedJobError)

    setattr(spawn_job, _PATCHED, True)
    spawn_job.__wrapped__ = original  # type: ignore[attr-defined]
    Executor.spawn_job = spawn_job
    return True


def run_and_keep_stderr(command: str, failure: type[BaseException]) -> None:
    """Run `command` in a shell as `subprocess.check_call` does, teeing its stderr; raise `failure` (with
    the stderr kept on it, and the CalledProcessError as its context, as Snakemake's own) if it fails."""
    process = subprocess.Popen(command, shell=True, stderr=subprocess.PIPE)
    kept = bytearray()
    reader = threading.Thread(target=_tee, args=(process.stderr, kept), daemon=True, name="flowledger-tee")
    reader.start()
    try:
        code = process.wait()
    except BaseException:
        process.kill()
        process.wait()
        raise
    reader.join(_READER_GRACE_S)  # a grandchild left running may hold the pipe: never wait for it
    if code:
        try:
            raise subprocess.CalledProcessError(code, command)
        except subprocess.CalledProcessError as called:  # its context, as in Snakemake's own spawn_job
            error = failure()
            setattr(error, ATTRIBUTE, bytes(kept).decode("utf-8", "replace"))
            raise error from called


def _tee(stream: Any, kept: bytearray) -> None:
    """Copy the child's stderr to ours as it comes, keeping its tail."""
    descriptor = stream.fileno()
    while True:
        try:
            chunk = os.read(descriptor, 65536)
        except OSError:
            break
        if not chunk:
            break
        _write_all(2, chunk)
        kept.extend(chunk)
        if len(kept) > 2 * KEEP_BYTES:
            del kept[: len(kept) - KEEP_BYTES]
    stream.close()


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(descriptor, view) :]
        except InterruptedError:
            continue
        except OSError:  # our stderr is gone: keep draining the child regardless
            return


def failure_report(error: BaseException | None) -> str | None:
    """The child's report of its failure (exception and traceback lines), from what it printed."""
    text = getattr(error, ATTRIBUTE, None) if error is not None else None
    if not text:
        return None
    lines = text[-KEEP_BYTES:].splitlines()
    wrapped = [i for i, line in enumerate(lines) if line.startswith("RuleException")]  # how Snakemake wraps it
    starts = wrapped[-1:] or [i for i, line in enumerate(lines) if _FAILURE_START.match(line)]
    if not starts:
        return "\n".join(lines[-20:]).strip() or None
    report: list[str] = []
    for line in lines[starts[0] :]:
        if report and _SNAKEMAKE_LINE.match(line):
            break
        report.append(line)
    return "\n".join(report).strip() or None
