"""`track()` and `finish()`: a global run for a script or a notebook, as lamindb's `ln.track()`.

The run records the files the script or notebook opens from Python (`capture`: read -> input, written ->
output), hashed and recorded when it ends, and the command line, working directory, host and Python
version in its json. In a script, a run that ends without `finish()` or with an uncaught exception is
recorded as errored (a KeyboardInterrupt as aborted), with the error and its files; the script's
traceback and exit status stay its own.
"""

import atexit
import os
import platform
import signal
import sys
import threading
import traceback
import warnings
from pathlib import Path

from . import capture, environment, notebook
from .contract import AddFiles, Call, FinishRun, StartRun, TransformSpec, source_hash
from .errors import FlowledgerError
from .ids import new_uid
from .models import Artifact, Run, Transform
from .paths import host
from .recorder import recorder_for
from .store import Ledger, get_ledger


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
    files: bool = True,
    db=None,
) -> Run:
    """Start the global run: of `transform`, else of the running notebook or script.

    The script or notebook becomes a Transform named after its file, with its source code; without
    `version`, the version is the hash of that code, so an edited file is a new version. With `files`
    (the default), the files it opens from Python until `finish()` become the run's inputs and outputs;
    `run.inputs.add()` / `run.outputs.add()` add others (files opened by C code or other processes).
    """
    capture.stop()  # a track() without finish() before this one: its files are not recorded
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
    if shell is not None and not params:
        params = notebook.injected_parameters(shell, context.notebook)  # a papermill run's parameters
    start = StartRun(
        target,
        new_uid(16),
        json={**_where(), **({"params": params} if params else {})},
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
    else:
        notebook.keep_outputs(shell)
    if files:
        hasher = recorder_for(ledger).hasher
        capture.start(ledger.path, hasher.content)  # an input about to be deleted is hashed first
    return context.run


def finish() -> Run:
    """Finish the global run: completed, with `finished_at`; for a notebook its consecutiveness and report."""
    run = context.run
    if run is None:
        raise FlowledgerError("fl.finish() was called without fl.track()")
    ledger = run._store
    files = _captured_files(run)
    report = None
    if context.notebook is not None:
        try:
            run.is_consecutive = notebook.is_consecutive(context.notebook, context._shell)
            run.save()
            report = notebook.html_report(context.notebook, ledger.path.parent / "reports", run.uid, context._shell)
        except Exception as problem:  # the run is finished all the same
            warnings.warn(f"flowledger could not check or render notebook {context.notebook}: {problem}", stacklevel=2)
    _submit(ledger, [*files, FinishRun(run.uid, status="completed", report=report)])
    context.run = None
    return run.refresh()


def _where() -> dict:
    """What the run's json says of where it ran: command line, working directory, host, Python version."""
    return {"argv": list(sys.argv), "cwd": os.getcwd(), "host": host(), "python": platform.python_version()}


def _captured_files(run: Run) -> list[Call]:
    """Stop the capture; its inputs and outputs as recorder calls (none if capture was off or failed).

    Paths the run already has (added by hand, or read back by the hashing that adding does) keep the
    role they were given. The script or notebook itself is source code, not data.
    """
    found = capture.stop()
    if found is None:
        return []
    try:
        transform = context.transform
        source = [transform.reference] if transform and transform.reference_type == "path" else []
        known = Artifact.using(run._store)
        inputs, outputs = found.files(source, lambda path: known.filter(path=path).first() is not None)
        linked = {p for a in [*run.inputs, *run.outputs] for p in (a.path, a.user_path) if p}
        inputs = [p for p in inputs if p not in linked]
        outputs = [p for p in outputs if p not in linked]
    except Exception as problem:  # the run is finished all the same, without them
        warnings.warn(f"flowledger could not list the files run {run.uid} opened: {problem}", stacklevel=3)
        return []
    calls: list[Call] = [AddFiles(run.uid, "input", tuple(inputs))] if inputs else []
    return calls + ([AddFiles(run.uid, "output", tuple(outputs))] if outputs else [])


def _submit(ledger: Ledger, calls: list[Call]) -> None:
    """The files and the end of the run in one transaction (hashed before it). A failure to end the run
    raises; a failure to record its files (which the recorder makes rare: unreadable files are listed in
    the run's json) is a warning."""
    failed: list[tuple[Call, Exception]] = []
    recorder_for(ledger).submit_all(calls, lambda call, error: failed.append((call, error)))
    for call, error in failed:
        if not isinstance(call, AddFiles):
            raise error
        warnings.warn(f"flowledger could not record the {call.role}s of run {call.uid}: {error}", stacklevel=3)


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
    """Record a crash or a missing finish() at exit; chain any excepthook already there. A forked child
    leaves the run to its parent (its exit is not the script's)."""
    if context._guards_installed:
        return
    context._guards_installed = True
    os.register_at_fork(after_in_child=_forget_run)
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


def _forget_run() -> None:
    context.run = None


def _end(status: str, error: str, details: str | None) -> None:
    """The end of a script that did not call finish(): its status, error and files in one transaction."""
    run = context.run
    if run is None:
        return
    context.run = None
    try:
        end = FinishRun(run.uid, status=status, error=error, json={"traceback": details} if details else None)
        _submit(run._store, [*_captured_files(run), end])
    except Exception as problem:  # the script's own error matters more
        print(f"WARNING: flowledger could not record the end of run {run.uid}: {problem}", file=sys.stderr)
