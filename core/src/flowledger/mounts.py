"""Which storage holds a path: a share that several hosts see, or this host's own disk.

A shared ledger is written from several hosts, so an artifact's path alone does not say which file it is:
`/scratch/a.txt` on two hosts is one file when `/scratch` is a network file system both mount, and two files
when it is each host's local disk. The mount table (`/proc/self/mountinfo`) tells them apart: a path on a
network file system belongs to the share (its type family and mount source, e.g. `nfs:server:/export`), any
other path to this host (its host name). Off Linux, without a mount table, every path is this host's.
"""

import functools
import os
import re
from dataclasses import dataclass

from .paths import host

MOUNTINFO = "/proc/self/mountinfo"

# File system types whose files other hosts see too, and the family that names the share (NFS 3 and 4 are one
# share). Their mount source names the share: `server:/export`, `//server/share`, `10.0.0.1@tcp:/lustre`; for
# GPFS (`gpfs1`), BeeGFS (`beegfs_nodev`) and ceph-fuse (`ceph-fuse`) it names it only within one site.
# Left out on purpose: 9p and virtiofs (a virtual machine's window on its own host's disk, not a share
# between hosts), sshfs (a per-user view of another host), overlay and tmpfs (local).
NETWORK_FILE_SYSTEMS = {
    "nfs": "nfs",
    "nfs4": "nfs",
    "lustre": "lustre",
    "gpfs": "gpfs",
    "ceph": "ceph",
    "fuse.ceph": "ceph",
    "fuse.ceph-fuse": "ceph",
    "cifs": "smb",
    "smb3": "smb",
    "smbfs": "smb",
    "beegfs": "beegfs",
    "glusterfs": "glusterfs",
    "fuse.glusterfs": "glusterfs",
}


@dataclass(frozen=True)
class Mount:
    """One line of the mount table."""

    point: str  # where it is mounted on this host
    root: str  # the folder of the file system mounted there: `/` unless a bind mount of a sub-folder
    fs_type: str
    source: str


@dataclass(frozen=True)
class Storage:
    """The storage holding a path: `host` names it (the share, or this host), `root` is its mount point here."""

    host: str
    root: str
    shared: bool
    share_root: str = "/"  # the share's folder mounted at `root`

    def inside(self, path: str) -> str:
        """`path` (at or under `root`) as the storage knows it: on a share the path inside the share, the same
        on every host that mounts it, wherever it mounts it; on local storage the path itself."""
        if not self.shared:
            return path
        return self.share_root.rstrip("/") + path[len(self.root.rstrip("/")) :] or "/"


_ESCAPED = re.compile(rb"\\([0-7]{3})")


def _field(raw: bytes) -> str:
    """A mountinfo field as text: the kernel writes space, tab, newline and backslash as octal (`\\040`)."""
    if b"\\" in raw:
        raw = _ESCAPED.sub(lambda match: bytes([int(match[1], 8)]), raw)
    return os.fsdecode(raw)


def parse(text: bytes) -> dict[str, Mount]:
    """The mounts in a mountinfo text, by mount point; of several at one point, the last (on top) wins.

    A line: mount ID, parent ID, major:minor, root, mount point, options, optional fields, `-`, file system
    type, mount source, super options.
    """
    mounts = {}
    for line in text.splitlines():
        fields = line.split(b" ")
        try:
            end = fields.index(b"-", 6)
            mount = Mount(_field(fields[4]), _field(fields[3]), _field(fields[end + 1]), _field(fields[end + 2]))
        except (ValueError, IndexError):  # not a mountinfo line
            continue
        mounts[mount.point] = mount
    return mounts


@functools.cache
def mount_table(mountinfo: str = MOUNTINFO) -> dict[str, Mount] | None:
    """The mount table, read once per process; None without one (not Linux, or unreadable)."""
    try:
        with open(mountinfo, "rb") as file:
            return parse(file.read())
    except OSError:
        return None


def _mount_holding(folder: str, mounts: dict[str, Mount]) -> Mount | None:
    """The mount with the longest mount point at or above `folder`, component by component."""
    while (mount := mounts.get(folder)) is None and folder != "/":
        folder = folder.rpartition("/")[0] or "/"
    return mount


@functools.lru_cache(maxsize=65536)
def _storage_in(folder: str, mountinfo: str) -> Storage:
    mount = _mount_holding(folder, mount_table(mountinfo) or {})
    if mount is not None and mount.fs_type == "autofs":  # mounted on first use, after the table was read
        mount_table.cache_clear()
        mount = _mount_holding(folder, mount_table(mountinfo) or {})
    if mount is None:
        return Storage(host(), "/", shared=False)
    family = NETWORK_FILE_SYSTEMS.get(mount.fs_type)
    if family is None:
        return Storage(host(), mount.point, shared=False)
    return Storage(f"{family}:{mount.source}", mount.point, shared=True, share_root=mount.root)


def storage_of(path: str, mountinfo: str = MOUNTINFO) -> Storage:
    """The storage holding `path` (absolute, normalised, symlinked folders already resolved).

    Remembered per folder: a pipeline records thousands of files in a few folders. A path that is itself a
    mount point is held by that mount.
    """
    mounts = mount_table(mountinfo) or {}
    return _storage_in(path if path in mounts else path.rpartition("/")[0] or "/", mountinfo)


def forget() -> None:
    """Read the mount table again on next use (tests, or after mounting)."""
    mount_table.cache_clear()
    _storage_in.cache_clear()
