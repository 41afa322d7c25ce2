"""Snakemake 8 log handler script: `snakemake --log-handler-script "$(flowledger snakemake handler-path)"`.

The Snakemake 8 intake. Messages are dicts keyed by a `level` string, which `events.SNAKEMAKE8` maps onto
the same event dataclasses (and so the same tracker handlers) as Snakemake 9's `LogEvent`s. Snakemake 8
loads this file as a module named `log` and calls `log_handler(msg)` synchronously, from the scheduler
thread and the job thread pool, so everything here runs under a lock and stays quick (writes go to the
tracker's background recorder). Snakemake 8.30 hands every message after the first to the handler twice
(the same dict): the first call marks it `_seen`. Snakemake 8 has no run id and no end-of-workflow
message: the tracker makes a uuid4, and the run is finished at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import Any

_lock = threading.RLock()
_tracker: Any = None
_disabled = False


def log_handler(msg: dict) -> None:
    """Snakemake 8 calls this for every message; it never raises."""
    global _disabled
    if _disabled or not isinstance(msg, dict):
        return
    try:
        if msg.get("_seen"):
            return
        msg["_seen"] = True
        # imported here, not at load time: a broken install must not stop Snakemake from loading this file
        from snakemake_logger_plugin_flowledger.events import SNAKEMAKE8

        parse = SNAKEMAKE8.get(str(msg.get("level")))
        if parse is None:
            return
        with _lock:
            tracker = _get_tracker()
            if tracker is None:
                return
            tracker.probe_stack(msg.get("level"), msg.get("jobid"))  # runs inline: the stack is Snakemake's
            if msg.get("level") == "info":  # a temp() file about to be deleted is hashed first
                tracker.before_removal(msg.get("msg"))
            event = parse(msg)
            if event is not None:
                tracker.handle(event)
    except Exception as error:  # a bug here (or a broken install) must not reach Snakemake
        _disabled = True
        _warn_failed(error)


def _warn_failed(error: BaseException) -> None:
    """One warning, through the tracker's WarnOnce when there is one (it may have warned already)."""
    what = "the Snakemake 8 log handler stopped after an internal error"
    try:
        if _tracker is not None:
            _tracker.warn.failed(what, error)
            return
        from snakemake_logger_plugin_flowledger.logger import warn_failed  # a script on Snakemake 8: no relative import

        warn_failed(what, error)
    except Exception:  # the plugin itself cannot be imported: still one line, and Snakemake goes on
        print(
            f"WARNING: flowledger could not record lineage ({what}: {type(error).__name__}: {error}); "
            "the pipeline is not affected.",
            file=sys.stderr,
            flush=True,
        )


def _snakemake_logger() -> Any:
    module = sys.modules.get("snakemake.logging")
    return getattr(module, "logger", None)


def _is_main_process() -> bool:
    """False in the child processes Snakemake spawns for `run:` jobs and cluster jobs."""
    logger = _snakemake_logger()
    mode = getattr(logger, "mode", None)
    return mode is None or str(getattr(mode, "name", mode)).upper() == "DEFAULT"


def _get_tracker() -> Any:
    global _tracker, _disabled
    if _tracker is not None:
        return _tracker
    if not _is_main_process():
        _disabled = True
        return None
    from snakemake_logger_plugin_flowledger.child_stderr import keep_child_stderr
    from snakemake_logger_plugin_flowledger.tracker import Tracker, TrackerSettings

    settings = TrackerSettings(
        db=os.environ.get("SNAKEMAKE_LOGGER_FLOWLEDGER_DB") or None,
        name=os.environ.get("SNAKEMAKE_LOGGER_FLOWLEDGER_NAME") or None,
    )
    try:
        settings.wait = float(os.environ["SNAKEMAKE_LOGGER_FLOWLEDGER_WAIT"])
    except (KeyError, ValueError):
        pass
    _tracker = Tracker(settings, snakemake_major=8, is_dryrun=_is_dryrun)
    _register_exit(_finish)
    keep_child_stderr()  # a failed `run:` block's traceback, which only its child prints
    return _tracker


def _is_dryrun() -> bool:
    return bool(getattr(_snakemake_logger(), "dryrun", False))


def _finish() -> None:
    with _lock:
        if _tracker is not None:
            _tracker.close()


def _register_exit(callback: Any) -> None:
    """Run `callback` at exit, before the interpreter waits for non-daemon threads if it can."""
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is not None:
            register(callback)
            return
    except Exception:
        pass
    atexit.register(callback)
