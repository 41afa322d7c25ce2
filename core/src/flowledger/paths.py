"""Paths as the ledger keeps them: absolute and normalised, and the host and mount point holding them."""

import functools
import os
import socket

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
    return (os.path.join(os.path.realpath(folder), name) if name else given), given


@functools.cache
def host() -> str:
    return socket.gethostname()


@functools.lru_cache(maxsize=65536)
def storage_root(folder: str) -> str:
    """The mount point holding `folder`; cached per folder, so sibling folders cost one check each."""
    if os.path.ismount(folder):
        return folder
    parent = os.path.dirname(folder)
    return folder if parent == folder else storage_root(parent)
