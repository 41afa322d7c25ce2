"""Who runs things: the OS user unless a workflow manager tells us otherwise."""

import getpass
import os


def current_handle() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return os.environ.get("USER") or f"uid{os.getuid()}"
