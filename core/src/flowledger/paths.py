"""Paths as the ledger keeps them: absolute and normalised; the host recording them; a file written whole."""

import functools
import os

from .errors import InputError


def absolute(path: str | os.PathLike) -> str:
    """An absolute, normalised path; symlinks are kept (a link is where the user looks)."""
    text = os.fsdecode(path)
    if not text or "\0" in text:
        raise InputError(f"{text!r} is not a usable path")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes the file system allows, but no text: the ledger keeps paths as text
        raise InputError(f"{text!r}: the file name is not valid UTF-8, so flowledger cannot record it") from None
    return os.path.normpath(os.path.abspath(os.path.expanduser(text)))


def located(path: str | os.PathLike) -> tuple[str, str]:
    """(where the file is, the path given): the folders resolved through symlinks, the file's own name kept.

    A file written through a symlinked folder and read through the real one is one file, one artifact.
    """
    given = absolute(path)
    folder, name = os.path.split(given)
    return (os.path.join(real_folder(folder), name) if name else given), given


_real_folders: dict[str, tuple[tuple[int, int, int] | None, str]] = {}


def real_folder(folder: str) -> str:
    """`os.path.realpath(folder)`, remembered while the folder itself stays the same (one lstat instead of
    one per path component: a pipeline records thousands of files in a few folders)."""
    try:
        stat = os.lstat(folder)
        key: tuple[int, int, int] | None = (stat.st_ino, stat.st_dev, stat.st_mode)
    except OSError:
        key = None
    known = _real_folders.get(folder)
    if known is not None and known[0] == key and key is not None:
        return known[1]
    real = os.path.realpath(folder)
    if len(_real_folders) > 65536:
        _real_folders.clear()
    _real_folders[folder] = (key, real)
    return real


@functools.cache
def host() -> str:
    """This machine's name, as `socket.gethostname()` gives it (without importing socket: ~5 ms)."""
    return os.uname().nodename


def write_whole(path: str | os.PathLike, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it there: a concurrent reader never reads
    half a file. Readable by everyone (mkstemp makes it private; others sharing a ledger read it)."""
    import tempfile  # (only when something is written)

    folder = os.path.dirname(os.fspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.")
    os.fchmod(handle, 0o644)
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, path)
