"""Who runs things (the OS user unless a workflow manager says otherwise), and which process records them."""

import functools
import getpass
import os


def current_handle() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return os.environ.get("USER") or f"uid{os.getuid()}"


@functools.cache
def this_process() -> tuple[int, int | None]:
    """(pid, start time): the pair that names this process, even after its pid is reused."""
    return os.getpid(), process_start(os.getpid())


def process_start(pid: int) -> int | None:
    """When process `pid` started, in clock ticks since boot (Linux), or None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return int(fields[19])  # field 22 of proc(5), counted after the command name
    except (OSError, IndexError, ValueError):
        return None


def process_gone(pid: int | None, start: int | None) -> bool:
    """Has the process (pid, start) on this host ended? False when it cannot be told."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process, alive
        pass
    return start is not None and process_start(pid) not in (start, None)
