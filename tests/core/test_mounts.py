"""Which storage holds a path: the mount table parsed, the longest mount point chosen, and two hosts (Linux
namespaces with their own host name and mounts) telling local disks from a share."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from flowledger import mounts
from flowledger.mounts import Storage, storage_of
from flowledger.paths import host

# Mounts of a container on a cluster node: overlay root, local disks, NFS 3 and 4, Lustre, SMB with spaces in
# names, GPFS, autofs, bind mounts of sub-folders, a disk mounted over a tmpfs.
MOUNTINFO = rb"""
22 1 0:21 / / rw,relatime shared:1 - overlay overlay rw,lowerdir=/var/lib/l1:/var/lib/l2,upperdir=/u,workdir=/w
23 22 0:22 / /proc rw,nosuid,nodev,noexec - proc proc rw
24 22 0:23 / /tmp rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,size=1024k
25 22 254:1 / /data rw,relatime shared:6 - ext4 /dev/vda1 rw
26 22 0:45 / /data2 rw,relatime shared:7 - nfs4 filer:/export/data2 rw,vers=4.2,addr=10.0.0.5
27 22 0:46 / /home rw,relatime shared:8 master:2 - nfs filer:/export/home rw,vers=3,addr=10.0.0.5
28 22 0:47 / /lustre rw - lustre 10.0.0.1@o2ib:/scratch rw,flock
29 22 0:48 / /mnt/win\040share rw - cifs //winsrv/team\040files rw,vers=3.0
30 25 254:1 /projects/alpha /work/alpha rw,relatime - ext4 /dev/vda1 rw
31 22 0:46 /alice /scratch/alice rw - nfs filer:/export/home rw,vers=3
32 22 0:49 / /net rw - autofs auto.net rw,fd=7,pgrp=1,timeout=300
33 24 254:16 / /tmp rw - ext4 /dev/vdb rw
34 22 0:51 / /gpfs/fs1 rw - gpfs gpfs1 rw
not a mountinfo line
"""


@pytest.fixture(autouse=True)
def fresh_tables():
    mounts.forget()
    yield
    mounts.forget()


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "mountinfo"
    path.write_bytes(MOUNTINFO)
    return str(path)


def test_parse():
    table = mounts.parse(MOUNTINFO)
    assert table["/"] == mounts.Mount("/", "/", "overlay", "overlay")
    assert table["/mnt/win share"] == mounts.Mount("/mnt/win share", "/", "cifs", "//winsrv/team files")
    assert table["/home"].fs_type == "nfs" and table["/home"].source == "filer:/export/home"  # two optional fields
    assert table["/work/alpha"].root == "/projects/alpha"
    assert table["/tmp"].source == "/dev/vdb"  # mounted over the tmpfs
    assert len(table) == 12  # 13 mounts, one over another; the garbage line skipped
    assert mounts.parse(rb"1 2 0:3 /a\134b /x\011y\012z rw - ext4 /dev/sd\040a rw")["/x\ty\nz"] == mounts.Mount(
        "/x\ty\nz", "/a\\b", "ext4", "/dev/sd a"
    )


@pytest.mark.parametrize(
    ("path", "root", "share", "inside"),
    [
        ("/data/sub/deeper/x.txt", "/data", None, "/data/sub/deeper/x.txt"),
        ("/data", "/data", None, "/data"),  # a mount point is held by its own mount
        ("/data20/x.txt", "/", None, "/data20/x.txt"),  # component-wise: /data20 is not under /data
        ("/data2/x.txt", "/data2", "nfs:filer:/export/data2", "/x.txt"),
        ("/tmp/x.txt", "/tmp", None, "/tmp/x.txt"),
        ("/work/alpha/x.txt", "/work/alpha", None, "/work/alpha/x.txt"),
        ("/work/beta/x.txt", "/", None, "/work/beta/x.txt"),
        ("/lustre/p/q.txt", "/lustre", "lustre:10.0.0.1@o2ib:/scratch", "/p/q.txt"),
        ("/mnt/win share/doc.txt", "/mnt/win share", "smb://winsrv/team files", "/doc.txt"),
        ("/gpfs/fs1/a", "/gpfs/fs1", "gpfs:gpfs1", "/a"),
        ("/home/alice/x.txt", "/home", "nfs:filer:/export/home", "/alice/x.txt"),
    ],
)
def test_longest_mount_point(table, path, root, share, inside):
    storage = storage_of(path, table)
    assert storage == Storage(share or host(), root, shared=share is not None)
    assert storage.inside(path) == inside


def test_one_share_wherever_mounted(table):
    """The same NFS export, mounted at /home and bound (its sub-folder) at /scratch/alice: one file."""
    home, scratch = storage_of("/home/alice/r/x.txt", table), storage_of("/scratch/alice/r/x.txt", table)
    assert home.host == scratch.host == "nfs:filer:/export/home"
    assert home.inside("/home/alice/r/x.txt") == scratch.inside("/scratch/alice/r/x.txt") == "/alice/r/x.txt"
    assert scratch.inside("/scratch/alice") == "/alice"
    assert storage_of("/data2", table).inside("/data2") == "/"
    assert storage_of("/data2/x", table) is storage_of("/data2/y", table)  # remembered per folder


def test_autofs_mounted_after_reading(table):
    assert storage_of("/net/other/x", table) == Storage(host(), "/net", shared=False)
    with open(table, "ab") as file:  # the automounter mounts the share when the file is first used
        file.write(b"40 32 0:60 / /net/filer rw - nfs4 filer:/ rw\n")
    assert storage_of("/net/filer/x", table) == Storage("nfs:filer:/", "/net/filer", shared=True)


@pytest.mark.parametrize("text", [None, b"", b"garbage\n"])
def test_no_mount_table(tmp_path, text):
    path = tmp_path / "mountinfo"
    if text is not None:
        path.write_bytes(text)
    storage = storage_of("/some/where/x.txt", str(path))
    assert storage == Storage(host(), "/", shared=False)
    assert storage.inside("/some/where/x.txt") == "/some/where/x.txt"


def test_this_host():
    storage = storage_of(os.path.abspath(__file__))
    assert storage.root == os.sep or os.path.ismount(storage.root)
    assert storage.shared or storage.host == host()


# Runs as another host: its own host name, and its own mounts (a file system as `fs_type` from `source` at each
# folder; a FUSE mount nobody serves is enough for the mount table, and FUSE lets it name any type), then
# prints the storage of each path.
ANOTHER_HOST = textwrap.dedent("""
    import ctypes, json, os, socket, sys
    from flowledger.mounts import storage_of

    name, mounts, paths = json.loads(sys.argv[1])
    socket.sethostname(name)
    libc = ctypes.CDLL(None, use_errno=True)
    for fs_type, source, folder in mounts:
        options = ""
        if fs_type.startswith("fuse."):
            options = f"fd={os.open('/dev/fuse', os.O_RDWR)},rootmode=40000,user_id=0,group_id=0"
        if libc.mount(source.encode(), folder.encode(), fs_type.encode(), 0, options.encode()):
            sys.exit(f"mount {fs_type} at {folder}: {os.strerror(ctypes.get_errno())}")
    storages = [storage_of(path) for path in paths]
    print(json.dumps([[s.host, s.root, s.shared, s.inside(path)] for s, path in zip(storages, paths)]))
""")


def on_another_host(name, mounts, paths):
    """The storage of each path seen from another host, as [host, root, shared, inside]."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare command to run as another host")
    allowed = subprocess.run([unshare, "--uts", "--mount", "true"], capture_output=True, text=True)
    if allowed.returncode:
        pytest.skip(f"unshare --uts --mount is not permitted here: {allowed.stderr.strip()}")
    command = [unshare, "--uts", "--mount", sys.executable, "-c", ANOTHER_HOST, json.dumps([name, mounts, paths])]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_local_disk_of_another_host(tmp_path):
    """The same path on the local disks of two hosts: two storages, each named by its host."""
    disk = tmp_path / "disk"
    disk.mkdir()
    path = str(disk / "a.txt")
    there = on_another_host("other-host", [["tmpfs", "tmpfs", str(disk)]], [path, str(tmp_path / "b.txt")])
    assert there[0] == ["other-host", str(disk), False, path]
    assert there[1][0] == "other-host" and there[1][1] != str(disk)
    here = storage_of(path)
    assert here.host == host() != "other-host" and here.root != str(disk)  # the mount stayed in its namespace


def test_share_seen_from_two_hosts(tmp_path):
    """One GlusterFS volume, mounted by two hosts at the same folder and at another one: one storage."""
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse to mount a file system typed as a network one")
    share, elsewhere = tmp_path / "share", tmp_path / "elsewhere"
    share.mkdir()
    elsewhere.mkdir()
    volume = ["fuse.glusterfs", "filer:/vol", str(share)]
    seen = [
        on_another_host("host-a", [volume], [str(share / "r" / "x.txt")]),
        on_another_host("host-b", [volume, [*volume[:2], str(elsewhere)]], [str(share / "r" / "x.txt")]),
        on_another_host("host-c", [[*volume[:2], str(elsewhere)]], [str(elsewhere / "r" / "x.txt")]),
    ]
    assert seen[0] == seen[1] == [["glusterfs:filer:/vol", str(share), True, "/r/x.txt"]]
    assert seen[2] == [["glusterfs:filer:/vol", str(elsewhere), True, "/r/x.txt"]]
