"""The files a tracked script or notebook opens, seen through Python's audit hooks (PEP 578).

Every file opened from Python raises the audit event "open" (path, mode, flags) before it is opened,
whoever opens it: `open`, `pathlib`, pandas, numpy, `csv`, `shutil`. One hook, installed once per
process (audit hooks cannot be removed), runs for every audit event, so it does as little as it can:
for "open", while a capture is active, it adds the path to a set; for anything else but a removal, a
rename, an `os.chdir` or starting another process, nothing. Sorting the paths (read modes -> inputs;
write, append, create or update -> outputs), leaving out what is not the user's data (the Python
installation, /proc, /sys, /dev, /etc, /run, /usr, the ledger and its files, the user's cache and
settings folders, Jupyter's runtime files, IPython's folder, imported modules), and hashing and
recording wait until the run ends. About half of what capture costs a script is CPython's own price
for calling a Python audit hook at all (bench/track_capture.py).

Not seen: files opened by C code that bypasses Python's `open` (HDF5 through h5py, BAM through pysam,
SQLite databases, most compiled readers), and files opened by other processes (subprocesses, forked
workers). Add them with `run.inputs.add(path)` / `run.outputs.add(path)`.
"""

from __future__ import annotations

import os
import site
import stat
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from .location import PROJECT_DIR, user_default

# An `os.open` without a mode: these flags make it a writer
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_READING = frozenset({"r", "rb", "rt", "br", "tr"})  # FileIO's modes that only read ("r"; others if called directly)
_MOVES = frozenset({"os.rename", "os.remove", "os.chdir"})  # os.replace raises os.rename, os.unlink os.remove
_LAUNCHES = frozenset({"subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.spawn"})
_RARE = _MOVES | _LAUNCHES
SYSTEM_FOLDERS = ("/proc/", "/sys/", "/dev/", "/etc/", "/run/", "/usr/")


class Capture:
    """The files one run opened.

    The hook only adds what it is given to a set (a file opened again costs no memory): the path of an
    `open()` to read to `opened_to_read` (strings, which the garbage collector never scans), the whole
    event (path, mode, flags) of any other open to `other_opens`. They are sorted into `reads` and
    `writes` (absolute, normal, the excluded folders left out) when needed: at the end, at a removal,
    and before an `os.chdir` changes what a relative path means.
    """

    def __init__(self, ledger_path: Path, before_removal: Callable[[str], object]):
        self.ledger_path = ledger_path
        self.excluded = excluded_roots(ledger_path)
        self.opened_to_read: set = set()  # str, bytes or path-like, relative to the working directory or not
        self.other_opens: set[tuple] = set()  # (path, mode, flags): writes, updates, os.open
        self.reads: set[str] = set()
        self.writes: set[str] = set()
        self.removed: set[str] = set()  # inputs deleted (or renamed away) through Python while captured
        self.existed: set[str] = set()  # inputs seen to exist when another process was started
        self.before_removal = before_removal  # hashes an input about to be deleted, so the ledger keeps it

    def sort_pending(self) -> None:
        """Sort the opens seen so far. The working directory is still the one they were opened in."""
        reads, others = list(self.opened_to_read), list(self.other_opens)  # list() and difference_update()
        self.opened_to_read.difference_update(reads)  # are each one step under the GIL: an open from another
        self.other_opens.difference_update(others)  # thread meanwhile waits for the next time
        opens = [(given, False) for given in reads]
        opens += [
            (given, (flags & _WRITING) if mode is None else mode not in _READING) for given, mode, flags in others
        ]
        for given, writing in opens:
            if isinstance(given, int):  # open(fd): the file was opened (and seen) before
                continue
            path = os.fsdecode(given)
            if not path.startswith("/"):
                try:
                    path = os.path.join(os.getcwd(), path)
                except OSError:  # the working directory was deleted: relative paths lead nowhere
                    continue
            path = os.path.normpath(path)
            if not path.startswith(self.excluded):
                (self.writes if writing else self.reads).add(path)

    def absolute(self, path, dir_fd: int | None) -> str | None:
        """`path` made absolute and normal; None when it is relative to a folder's descriptor (unknown here)."""
        path = os.fsdecode(path)
        if not path.startswith("/"):
            if dir_fd not in (-1, None):
                return None
            path = os.path.join(os.getcwd(), path)
        return os.path.normpath(path)

    def on_rare_event(self, event: str, args: tuple) -> None:
        """os.chdir, a removal, a rename, another process started: rare, so outside the hook's fast path.

        Another process may delete what the script read: the inputs are checked to exist first, so that
        one gone at the end is told from a failed open (a path tried, never there) and recorded.
        """
        self.sort_pending()
        if event in _LAUNCHES:
            self.existed.update(p for p in self.reads - self.existed if os.path.lexists(p))
            return
        if event == "os.chdir":
            return
        gone = self.absolute(args[0], args[-2] if event == "os.rename" else args[1])
        if gone is not None and gone in self.reads and gone not in self.writes and gone not in self.removed:
            self.removed.add(gone)
            pause()  # hashing opens the file: not the script's own open (one from another thread is missed)
            try:
                self.before_removal(gone)
            except Exception:  # nothing known of it, then: recorded as missing
                pass
            finally:
                resume(self)
        if event == "os.rename":  # a file written under a temporary name, then renamed: the new name
            target = self.absolute(args[1], args[3])
            if target is not None and not target.startswith(self.excluded):
                self.writes.add(target)

    def files(
        self, leave_out: Collection[str] = (), known: Callable[[str], bool] = lambda path: False
    ) -> tuple[list[str], list[str]]:
        """(inputs, outputs) as they stand now, sorted.

        A file both read and written is an output. Outputs deleted since are dropped. Inputs that are gone
        stay when they were there: deleted through Python (hashed before), seen before another process was
        started, or known to the ledger (`known`); the recorder keeps what is known of them, else lists
        them as missing. The rest of what is gone was most likely never there: a path tried and not found.
        Folders are left out (opened by `shutil.rmtree` and `os.fwalk`, not read as data), and so are the
        modules Python imported, their bytecode, and `leave_out` (the script's own source).
        """
        self.sort_pending()
        self.excluded = excluded = excluded_roots(self.ledger_path)  # with the tools imported since the start
        skip = set(map(os.path.normpath, leave_out)) | _module_files()
        outputs = {p for p in self.writes if not _skipped(p, excluded, skip)}
        inputs = {p for p in self.reads if not _skipped(p, excluded, skip)} - outputs
        was_there = self.removed | self.existed
        kept = [p for p in inputs if p in was_there or _is_data(p) or (not os.path.lexists(p) and known(p))]
        return sorted(kept), sorted(filter(_is_data, outputs))


_capture: Capture | None = None  # the active capture
_adds: tuple[Callable[[object], None], Callable[[tuple], None]] | None = None  # its two sets' `add`
_installed = False


def _audit(event: str, args: tuple) -> None:
    """The audit hook: runs for every audit event of the process, so its common path stays short."""
    if event == "open":
        adds = _adds
        if adds is not None:
            try:
                if args[1] == "r":  # open() to read, whoever calls it: FileIO's mode
                    adds[0](args[0])
                else:
                    adds[1](args)
            except TypeError:  # a path object that cannot be hashed: not a file name anyway
                pass
    elif event in _RARE:
        capture = _capture
        if capture is not None:
            try:
                capture.on_rare_event(event, args)
            except Exception:  # an audit hook that raises stops the script's own call: never
                pass


def start(ledger_path: Path, before_removal: Callable[[str], object]) -> Capture:
    """Capture the files opened from now on (a capture already active is dropped)."""
    global _installed
    if not _installed:
        sys.addaudithook(_audit)
        os.register_at_fork(after_in_child=pause)  # a forked child's files are its own, not the run's
        _installed = True
    capture = Capture(ledger_path, before_removal)
    resume(capture)
    return capture


def stop() -> Capture | None:
    """End the active capture and return it (None when none was active)."""
    capture = _capture
    pause()
    return capture


def pause() -> None:
    global _capture, _adds
    _capture = _adds = None


def resume(capture: Capture) -> None:
    global _capture, _adds
    _capture, _adds = capture, (capture.opened_to_read.add, capture.other_opens.add)


def excluded_roots(ledger_path: Any) -> tuple[str, ...]:
    """The folders (with a trailing slash) and the ledger prefix whose files are never the user's data.

    The system's and Python's folders; the ledger's own path, a prefix without a slash, so that it
    covers the -wal, -shm, -journal and .lock files; the ledger's folder whole when it is flowledger's
    (`.flowledger/`, the per-user default), else the environment snapshots written there (its reports
    are written once capture has stopped);
    the user's cache and settings folders (XDG: what tools keep, such as matplotlib's font list or
    jedi's completions); Jupyter's runtime files and IPython's folder, when those are imported.
    """
    on_server = not isinstance(ledger_path, str | os.PathLike)  # a ServerLedger: only its local folder here
    ledger = Path(ledger_path.parent) / "ledger" if on_server else Path(os.path.abspath(ledger_path))
    folder = ledger.parent
    python = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages()]
    python += [site.getusersitepackages(), sys.pycache_prefix or ""]
    ours = [folder] if on_server or folder.name == PROJECT_DIR or folder == user_default().parent else []
    snapshots = [str(folder / "environments" / name) for name in ("requirements-", ".requirements-", ".index-")]
    tools = [
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
        os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"),
    ]
    if "jupyter_core" in sys.modules:  # the kernel's connection file and other runtime files
        from jupyter_core.paths import jupyter_runtime_dir

        tools.append(jupyter_runtime_dir())
    if "IPython" in sys.modules:  # history, profiles, startup files
        from IPython.paths import get_ipython_dir

        tools.append(get_ipython_dir())
    folders = {os.path.join(str(f), "") for f in [*python, *ours, *tools] if f}
    folders |= {os.path.join(os.path.realpath(f), "") for f in folders}
    return (*SYSTEM_FOLDERS, *sorted(folders), str(ledger), os.path.realpath(ledger), *snapshots)


def _skipped(path: str, excluded: tuple[str, ...], skip: set[str]) -> bool:
    return path.startswith(excluded) or path in skip or "/__pycache__/" in path


def _is_data(path: str) -> bool:
    """Present, and not a folder."""
    try:
        return not stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _module_files() -> set[str]:
    """The source files of the modules imported so far (the script's own helpers too): code, not data."""
    found = set()
    for module in list(sys.modules.values()):
        try:
            file = getattr(module, "__file__", None)
        except Exception:  # a lazy module that imports on first touch, and fails
            continue
        if isinstance(file, str):
            found.add(os.path.normpath(os.path.abspath(file)))
    return found
