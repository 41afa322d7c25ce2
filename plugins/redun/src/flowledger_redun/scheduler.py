"""A recording redun `Scheduler`, and the `setup_scheduler` that `.redun/redun.ini` names.

The Scheduler is redun's own, with the same arguments; it wraps three methods of its backend
instance (not the class, and not a proxy: `redun log` and friends check
`isinstance(backend, RedunBackendDb)`) so that an `ExecutionObserver` sees the execution, its
tags and every job start. The ledger is opened only when an execution runs: `redun log`,
`redun console` ... also build their scheduler through `setup_scheduler`.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

import redun
from redun.expression import SchedulerExpression, TaskExpression
from redun.scheduler import needs_root_task, root_task

from .observer import ExecutionObserver


def setup_scheduler(config: Any) -> "Scheduler":
    """The hook for `.redun/redun.ini`: `[scheduler]` / `setup_scheduler = flowledger_redun::setup_scheduler`."""
    return Scheduler(config=config)


class Scheduler(redun.Scheduler):
    """redun's Scheduler, recording each execution into the flowledger ledger."""

    #: ledger path (None: resolved as everywhere: FLOWLEDGER_DB, nearest .flowledger/, user default)
    ledger: Optional[str] = None

    def __init__(self, *args: Any, ledger: Optional[str] = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.ledger = ledger
        self.flowledger_observer: Optional[ExecutionObserver] = None
        self.flowledger_last_observer: Optional[ExecutionObserver] = None
        _wrap_backend(self)

    def run(
        self,
        expr: Any,
        exec_argv: Optional[list[str]] = None,
        dryrun: bool = False,
        cache: bool = True,
        tags: Any = (),
        context: dict = {},
        execution_id: Optional[str] = None,
    ) -> Any:
        observer = None if dryrun else self._new_observer(expr)
        self.flowledger_observer = observer
        status, error = "errored", None
        try:
            result = super().run(
                expr,
                exec_argv=exec_argv,
                dryrun=dryrun,
                cache=cache,
                tags=tags,
                context=context,
                execution_id=execution_id,
            )
            status = "completed"
            return result
        except (KeyboardInterrupt, SystemExit) as exc:
            status, error = "aborted", exc
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            self.flowledger_observer = None
            if observer is not None:
                self.flowledger_last_observer = observer
                observer.finish(status, error)

    def _new_observer(self, expr: Any) -> Optional[ExecutionObserver]:
        try:
            return ExecutionObserver.open(self.ledger, _root_task(self, expr))
        except Exception as exc:
            warnings.warn(
                f"flowledger: cannot record this redun execution ({exc!r}); the workflow is not affected",
                RuntimeWarning,
                stacklevel=3,
            )
            return None


def _root_task(scheduler: redun.Scheduler, expr: Any) -> Any:
    """The task of the execution's root job (redun wraps other expressions in `redun.root_task`)."""
    if needs_root_task(scheduler.task_registry, expr):
        return root_task
    if isinstance(expr, TaskExpression) and not isinstance(expr, SchedulerExpression):
        return scheduler.task_registry.get(expr.task_name)
    return None


def _wrap_backend(scheduler: Scheduler) -> None:
    """Call the running execution's observer after each of three backend methods."""
    backend = scheduler.backend

    def after(name: str, hook: str) -> None:
        original = getattr(backend, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if name == "record_tags":  # redun passes a one-shot `chain`: read it once, for both
                if len(args) >= 3:
                    args = (*args[:2], list(args[2]), *args[3:])
                elif "tags" in kwargs:
                    kwargs["tags"] = list(kwargs["tags"])
            result = original(*args, **kwargs)
            observer = scheduler.flowledger_observer
            if observer is not None:
                getattr(observer, hook)(*args, **kwargs)
            return result

        wrapper.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(backend, name, wrapper)

    try:
        after("record_execution", "execution_started")
        after("record_tags", "tags_recorded")
        after("record_job_start", "job_started")
    except AttributeError as exc:  # a backend of another kind: run unrecorded rather than fail
        warnings.warn(f"flowledger cannot record with this redun backend ({exc}); the workflow is not affected",
                      RuntimeWarning, stacklevel=3)
