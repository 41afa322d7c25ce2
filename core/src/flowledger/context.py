"""`track()` and `finish()`: a global run for a script or a notebook, as lamindb's `ln.track()`.

A script that ends without `finish()`, or raises, is recorded as errored with the error.
"""

import atexit
import os
import sys
import traceback
from pathlib import Path

from . import environment, notebook
from .errors import FlowledgerError
from .models import Run, Transform
from .recorder import recorder_for
from .store import get_ledger


class Context:
    """What `track()` started: `fl.context.transform` and `fl.context.run`."""

    def __init__(self):
        self.transform: Transform | None = None
        self.run: Run | None = None
        self.notebook: Path | None = None
        self._shell = None
        self._guards_installed = False


context = Context()


def track(transform: Transform | None = None, *, name: str | None = None, version: str | None = None,
          path: str | os.PathLike | None = None, params: dict | None = None, db=None) -> Run:
    """Start the global run: of `transform`, else of the running notebook or script."""
    ledger = get_ledger(db)
    shell = notebook.running_kernel()
    if transform is None:
        transform = _transform_of_caller(shell, path, name, version)
    elif transform.id is None:
        transform.save()
    requirements = environment.snapshot(ledger.path.parent)
    uid = recorder_for(ledger).start_run(transform.id, json={"params": params} if params else None,
                                         environment=requirements)
    context.transform = transform
    context.run = Run.using(ledger).filter(uid=uid).one()
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
        run.is_consecutive = notebook.is_consecutive(context.notebook, context._shell)
        run.save()
        report = notebook.html_report(context.notebook, ledger.path.parent)
    recorder_for(ledger).finish_run(run.uid, status="completed", report=report)
    context.run = None
    return run.refresh()


def _transform_of_caller(shell, path, name, version) -> Transform:
    if shell is not None:
        source_path = notebook.notebook_path(shell, path)
        kind, source = "notebook", "\n\n".join(notebook.code_cells(source_path))
        context.notebook = source_path
    else:
        source_path = Path(path or getattr(sys.modules["__main__"], "__file__", "") or "")
        if not source_path.is_file():
            raise FlowledgerError("fl.track() found no script or notebook: pass fl.track(transform=...) "
                                  "or fl.track(path=...)")
        kind, source = "script", source_path.read_text()
        context.notebook = None
    return Transform(name=name or source_path.name, version=version, type=kind, source_code=source,
                     reference=str(source_path.absolute()), reference_type="path").save()


def _install_guards() -> None:
    """Record a crash or a missing finish() as errored; chain any excepthook already there."""
    if context._guards_installed:
        return
    context._guards_installed = True
    previous = sys.excepthook

    def excepthook(kind, value, tb):
        _end_errored("".join(traceback.format_exception_only(kind, value)).strip(),
                     "".join(traceback.format_exception(kind, value, tb)))
        previous(kind, value, tb)

    sys.excepthook = excepthook
    atexit.register(lambda: _end_errored("the script ended without fl.finish()", None))


def _end_errored(error: str, details: str | None) -> None:
    run = context.run
    if run is None:
        return
    context.run = None
    try:
        recorder_for(run._store).finish_run(run.uid, status="errored", error=error,
                                            json={"traceback": details} if details else None)
    except Exception as problem:  # the script's own error matters more
        print(f"WARNING: flowledger could not record the end of run {run.uid}: {problem}", file=sys.stderr)
