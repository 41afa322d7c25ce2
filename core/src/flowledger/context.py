"""`track()` and `finish()`: a global run for a script or a notebook, as lamindb's `ln.track()`.

In a script, a run that ends without `finish()` or with an uncaught exception is recorded as errored
(a KeyboardInterrupt as aborted), with the error; the script's traceback and exit status stay its own.
"""

import atexit
import os
import signal
import sys
import threading
import traceback
import warnings
from pathlib import Path

from . import environment, notebook
from .contract import StartRun
from .contract import TransformSpec, source_hash
from .errors import FlowledgerError
from .ids import new_uid
from .models import Run, Transform
from .recorder import recorder_for
from .store import get_ledger


class Context:
    """What `track()` started: `fl.context.transform` and `fl.context.run`."""

    def __init__(self):
        self.transform: Transform | None = None
        self.run: Run | None = None
        self.notebook: Path | None = None  # the running notebook, when the run is a notebook's
        self._shell = None
        self._guards_installed = False


context = Context()


def track(
    transform: Transform | None = None,
    *,
    name: str | None = None,
    version: str | None = None,
    path: str | os.PathLike | None = None,
    params: dict | None = None,
    db=None,
) -> Run:
    """Start the global run: of `transform`, else of the running notebook or script.

    The script or notebook becomes a Transform named after its file, with its source code; without
    `version`, the version is the hash of that code, so an edited file is a new version.
    """
    ledger = get_ledger(db)
    shell = notebook.running_kernel()
    context.notebook = None
    spec = target = None
    if transform is None:
        spec = target = _transform_of_caller(shell, path, name, version)
    else:
        if transform.id is None:
            object.__setattr__(transform, "_ledger_ref", ledger)  # saved where the run goes, also with `db=`
            transform.save()
        target = transform.id
    start = StartRun(
        target,
        new_uid(16),
        json={"params": params} if params else None,
        environment=environment.snapshot(ledger.path.parent),
    )
    recorder_for(ledger).submit(start)
    context.run = Run.using(ledger).filter(uid=start.uid).one()
    context.transform = context.run.transform
    if spec is not None and context.transform.hash != source_hash(spec.source_code):
        warnings.warn(
            f"{context.transform.name} version {context.transform.version} was recorded before with "
            "other source code, which it keeps: pass a new version to record this code",
            stacklevel=2,
        )
    context._shell = shell
    if shell is None:
        _install_guards()
    return context.run


def finish() -> Run:
    """Finish the global run: completed, with `finished_at`; for a notebook its consecutiveness and report."""
    run = context.run
    if run is None:
        raise FlowledgerError("fl.finish() was called without fl.track()")
    ledger = run._store
    report = None
    if context.notebook is not None:
        try:
            run.is_consecutive = notebook.is_consecutive(context.notebook, context._shell)
            run.save()
            report = notebook.html_report(context.notebook, ledger.path.parent / "reports", run.uid)
        except Exception as problem:  # the run is finished all the same
            warnings.warn(f"flowledger could not check or render notebook {context.notebook}: {problem}", stacklevel=2)
    recorder_for(ledger).finish_run(run.uid, status="completed", report=report)
    context.run = None
    return run.refresh()


def _transform_of_caller(shell, path, name, version) -> TransformSpec:
    if shell is not None:
        source_path = notebook.notebook_path(shell, path)
        kind, source = "notebook", notebook.source_code(source_path)
        context.notebook = source_path
    else:
        source_path = Path(path or getattr(sys.modules["__main__"], "__file__", None) or "")
        if not source_path.is_file():
            raise FlowledgerError(
                "fl.track() found no script or notebook: pass fl.track(transform=...) or fl.track(path=...)"
            )
        kind, source = "script", source_path.read_text()
    return TransformSpec(
        name=name or source_path.name,
        type=kind,
        version=version,
        source_code=source,
        reference=str(source_path.absolute()),
        reference_type="path",
    )


def _install_guards() -> None:
    """Record a crash or a missing finish() at exit; chain any excepthook already there."""
    if context._guards_installed:
        return
    context._guards_installed = True
    previous = sys.excepthook

    def excepthook(kind, value, tb):
        status = "aborted" if issubclass(kind, KeyboardInterrupt) else "errored"
        _end(
            status,
            "".join(traceback.format_exception_only(kind, value)).strip(),
            "".join(traceback.format_exception(kind, value, tb)),
        )
        previous(kind, value, tb)

    sys.excepthook = excepthook
    atexit.register(_end, "errored", "the script ended without fl.finish()", None)
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)


def _terminated(signum, frame) -> None:
    """SIGTERM (a scheduler's kill, `timeout`): record the run as aborted, then die as the signal says."""
    _end("aborted", "terminated by SIGTERM", None)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _end(status: str, error: str, details: str | None) -> None:
    run = context.run
    if run is None:
        return
    context.run = None
    try:
        recorder_for(run._store).finish_run(
            run.uid, status=status, error=error, json={"traceback": details} if details else None
        )
    except Exception as problem:  # the script's own error matters more
        print(f"WARNING: flowledger could not record the end of run {run.uid}: {problem}", file=sys.stderr)
