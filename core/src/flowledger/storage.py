"""Where an artifact is stored: the host and the mount point (the "storage root") holding it."""

import functools
import os
import socket


@functools.cache
def host() -> str:
    return socket.gethostname()


@functools.lru_cache(maxsize=4096)
def storage_root(folder: str) -> str:
    """The mount point holding `folder` (cached per folder: it walks up with stat calls)."""
    path = folder
    while not os.path.ismount(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path
