"""The live intake: a recording redun `Scheduler`, and the `setup_scheduler` that `.redun/redun.ini` names.

redun 0.44 has no event API. What it does have is a backend that the scheduler calls on its own
thread: `record_execution` when an execution starts, `record_tags` for its tags, and
`record_job_start` for every job that starts, cached or not, once its arguments are evaluated.
From there, `job.result_promise.then(done, failed)` is called synchronously when the job settles,
with the fully evaluated result (also for tasks that return expressions), before redun clears the
job. These attributes are public but undocumented: the plugin pins `redun>=0.44,<0.45` and a canary
test (`tests/redun/test_redun_canary.py`) checks them.

The Scheduler is redun's own, with the same arguments; it wraps those three methods of its backend
instance (not the class, and not a proxy: `redun log` and friends check
`isinstance(backend, RedunBackendDb)`) so that the execution's `Tracker` sees the execution, its
tags and every job start. The ledger is opened only when an execution records something: `redun log`,
`redun console` ... also build their scheduler through `setup_scheduler`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redun
from flowledger.plugin_api import PathLike, WarnOnce, print_warning
from redun.expression import SchedulerExpression, TaskExpression
from redun.scheduler import needs_root_task, root_task

from .tracker import Tracker


def setup_scheduler(config: Any) -> Scheduler:
    """The hook for `.redun/redun.ini`: `[scheduler]` / `setup_scheduler = flowledger_redun::setup_scheduler`."""
    return Scheduler(config=config)


class Scheduler(redun.Scheduler):
    """redun's Scheduler, recording each execution into the flowledger ledger."""

    #: ledger path (None: resolved as everywhere: FLOWLEDGER_DB, nearest .flowledger/, user default)
    ledger: PathLike | None = None

    def __init__(self, *args: Any, ledger: PathLike | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.ledger = ledger
        self.flowledger_tracker: Tracker | None = None  # the running execution's
        self.flowledger_last_tracker: Tracker | None = None  # the last execution's (bench, tests)
        _wrap_backend(self)

    def run(
        self,
        expr: Any,
        exec_argv: list[str] | None = None,
        dryrun: bool = False,
        cache: bool = True,
        tags: Any = (),
        # A mutable default, as in redun.Scheduler.run's own signature (the canary test checks it); only passed on.
        context: dict = {},  # noqa: B006
        execution_id: str | None = None,
    ) -> Any:
        tracker = None if dryrun else self._new_tracker(expr)
        self.flowledger_tracker = tracker
        error: BaseException | None = None
        try:
            return super().run(
                expr,
                exec_argv=exec_argv,
                dryrun=dryrun,
                cache=cache,
                tags=tags,
                context=context,
                execution_id=execution_id,
            )
        except BaseException as exc:
            error = exc
            raise
        finally:
            self.flowledger_tracker = None
            if tracker is not None:
                self.flowledger_last_tracker = tracker
                tracker.finish(error)

    def _new_tracker(self, expr: Any) -> Tracker | None:
        try:
            return Tracker.open(self.ledger, _root_task(self, expr))
        except Exception as exc:  # recording must never break the workflow
            WarnOnce().failed("redun execution", exc)
            return None


def _root_task(scheduler: redun.Scheduler, expr: Any) -> Any:
    """The task of the execution's root job (redun wraps other expressions in `redun.root_task`)."""
    if needs_root_task(scheduler.task_registry, expr):
        return root_task
    if isinstance(expr, TaskExpression) and not isinstance(expr, SchedulerExpression):
        return scheduler.task_registry.get(expr.task_name)
    return None


def _wrap_backend(scheduler: Scheduler) -> None:
    """Call the running execution's tracker after each of three backend methods."""
    backend = scheduler.backend

    def after(name: str, hook: Callable[..., None]) -> None:
        original = getattr(backend, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if name == "record_tags":  # redun passes a one-shot `chain`: read it once, for both
                if len(args) >= 3:
                    args = (*args[:2], list(args[2]), *args[3:])
                elif "tags" in kwargs:
                    kwargs["tags"] = list(kwargs["tags"])
            result = original(*args, **kwargs)
            tracker = scheduler.flowledger_tracker
            if tracker is not None:
                hook(tracker, *args, **kwargs)
            return result

        wrapper.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(backend, name, wrapper)

    try:
        after("record_execution", Tracker.execution_started)
        after("record_tags", Tracker.tags_recorded)
        after("record_job_start", Tracker.job_started)
    except AttributeError as exc:  # a backend of another kind: run unrecorded rather than fail
        print_warning(f"flowledger cannot record with this redun backend ({exc}); the workflow is not affected")
