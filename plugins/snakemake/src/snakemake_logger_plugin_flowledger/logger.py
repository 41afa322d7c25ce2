"""The Snakemake 9 intake: `LogHandler` and its settings (the package's `__init__` exposes them lazily).

Importing it must stay cheap and must never fail, since Snakemake imports every installed logger plugin on
every invocation: the core and the tracker are imported only when Snakemake builds the handler. (No
`from __future__ import annotations` here, and `Optional` rather than `X | None`: Snakemake turns the
settings' field types into argparse types, and accepts only plain types and `typing.Optional`.)
"""

import logging
from dataclasses import dataclass, field
from typing import Any, Optional

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.common import LogEvent
from snakemake_interface_logger_plugins.settings import LogHandlerSettingsBase

__version__ = "0.1.0"
SNAKEMAKE_LOGGER = "snakemake.logging"


@dataclass
class LogHandlerSettings(LogHandlerSettingsBase):
    db: Optional[str] = field(  # noqa: UP045 (see the module docstring)
        default=None,
        metadata={
            "help": "Ledger file, or a postgresql:// URL (default: $FLOWLEDGER_DB, else the nearest "
            ".flowledger/ledger.db, else the per-user ledger)",
            "env_var": True,
        },
    )
    name: Optional[str] = field(  # noqa: UP045 (see the module docstring)
        default=None,
        metadata={
            "help": "Name of the workflow's Transform (default: the workflow directory's name)",
            "env_var": True,
        },
    )
    wait: Optional[float] = field(  # noqa: UP045 (see the module docstring)
        default=None,
        metadata={
            "help": "Seconds to wait at the end (and before a temp() output is deleted) for the ledger to be "
            "written, beyond the estimated hashing time (default: 5); a ledger locked for longer is given up on "
            "with one warning",
            "env_var": True,
        },
    )


class LogHandler(LogHandlerBase):
    """Feeds Snakemake's log records, parsed by `events.from_record`, to a `Tracker`.

    `emit` runs on Snakemake's queue-listener thread, one record at a time, so it needs no lock. A
    filter on Snakemake's logger runs synchronously in the emitting thread; it only remembers the live
    Job (job_info) or exception (job_error) that the records themselves leave out.
    """

    def __post_init__(self) -> None:
        self._tracker: Any = None
        self._probe: Any = None
        try:
            from .child_stderr import keep_child_stderr
            from .events import from_record
            from .tracker import Tracker, TrackerSettings

            self._from_record = from_record

            settings = self.settings if isinstance(self.settings, LogHandlerSettings) else LogHandlerSettings()
            dryrun = bool(getattr(self.common_settings, "dryrun", False))
            tracker_settings = TrackerSettings(db=settings.db, name=settings.name)
            if settings.wait is not None:
                tracker_settings.wait = float(settings.wait)
            self._tracker = Tracker(tracker_settings, snakemake_major=9, is_dryrun=lambda: dryrun)
            if not dryrun:
                self._probe = _StackProbe(self._tracker)
                logging.getLogger(SNAKEMAKE_LOGGER).addFilter(self._probe)
                keep_child_stderr()  # a failed `run:` block's traceback, which only its child prints
        except Exception as error:  # never stop Snakemake from starting
            self._tracker = None
            warn_failed("starting the Snakemake logger plugin", error)

    def emit(self, record: logging.LogRecord) -> None:
        tracker = self._tracker
        if tracker is None:
            return
        try:
            event = self._from_record(record)
        except Exception:
            return
        if event is not None:
            tracker.handle(event)

    def close(self) -> None:
        try:
            if self._probe is not None:
                logging.getLogger(SNAKEMAKE_LOGGER).removeFilter(self._probe)
                self._probe = None
            if self._tracker is not None:
                self._tracker.close()
        finally:
            super().close()

    @property
    def writes_to_stream(self) -> bool:
        return False

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return True  # otherwise Snakemake's DefaultFilter drops records under --quiet

    @property
    def has_formatter(self) -> bool:
        return True

    @property
    def needs_rulegraph(self) -> bool:
        return False


class _StackProbe(logging.Filter):
    """Runs in the thread that logs: picks up the live Job / exception, lets every record through."""

    def __init__(self, tracker: Any) -> None:
        super().__init__()
        self.tracker = tracker

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            kind = getattr(record, "event", None)
            if kind in PROBED:
                self.tracker.probe_stack(kind, getattr(record, "jobid", None))
            elif kind is None and isinstance(record.msg, str) and record.msg.startswith(TEMP_REMOVAL):
                self.tracker.before_removal(record.getMessage())  # Snakemake deletes the file right after
        except Exception:
            pass
        return True


PROBED = frozenset({LogEvent.JOB_INFO, LogEvent.JOB_ERROR})  # the events whose emitting stack holds more
TEMP_REMOVAL = "Removing temporary output "  # = tracker.TEMP_REMOVAL (the tracker is imported lazily)


def warn_failed(what: str, error: BaseException) -> None:
    """The one warning, when the plugin itself cannot start (or the handler script fails) before a tracker
    and its `WarnOnce` exist. Never raises."""
    try:
        from flowledger.plugin_api import WarnOnce

        WarnOnce().failed(what, error)
    except Exception:  # the core itself cannot be imported: still one line, and Snakemake goes on
        import sys

        print(
            f"WARNING: flowledger could not record lineage ({what}: {type(error).__name__}: {error}); "
            "the pipeline is not affected.",
            file=sys.stderr,
            flush=True,
        )


__all__ = ["LogHandler", "LogHandlerSettings"]
