"""Where an artifact is stored: the host and the mount point (the "storage root") holding it."""

import functools
import os
import socket


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
