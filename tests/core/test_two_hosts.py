"""Two hosts, one PostgreSQL ledger (issue 11): the same absolute path is one file when it lies on a share both
hosts mount, and two files when it lies on each host's own disk.

Each host is a process in its own UTS and mount namespaces (`unshare --uts --mount`, as in test_mounts.py): its
own host name, and its own mounts, which stay in its namespace. Everything else is real: the files are written
and hashed, recorded through the real writer into one real PostgreSQL ledger, and read back with the Python API
and the `flowledger` command.

- A host's own disk is a folder of its own (tmp_path/disks/<host>) bound at the common path: a local file
  system in the mount table, so the storage is the host. (A bind rather than a tmpfs keeps a host's files from
  one of its processes to the next, as a disk does, and lets this process look at what each host wrote.)
- The share is one real folder (the "export") that both hosts bind at the common path. For flowledger to take
  it for a network file system, the host's mount table must say so, and no NFS server runs here (an unserved
  FUSE mount typed as one, as in test_mounts.py, can only be listed: a file on it can be neither written nor
  hashed). So after mounting, the host mounts over its own /proc/<pid>/mountinfo a copy of it in which that
  bind mount's line reads `nfs4 filer:/export` (root `/`, as an NFS mount of the export's root). flowledger
  itself is not patched at all: it reads the process's mount table as it always does. (Patching
  `flowledger.mounts.MOUNTINFO` would do nothing: `storage_of` takes it as a default argument, bound at import.)
"""

import contextlib
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap

import flowledger as fl
import pytest
from flowledger.location import resolve_ledger_path
from flowledger.store import open_ledger

SHARE = "nfs:filer:/export"  # the storage flowledger names for the share declared `nfs4 filer:/export`

# Runs as a host: its host name and mounts, then the test's code, which has `record` and `show` at hand.
AS_HOST = textwrap.dedent("""
    import ctypes, json, os, socket, subprocess, sys, tempfile

    name, disks, shares, code = json.loads(sys.argv[1])
    socket.sethostname(name)
    libc = ctypes.CDLL(None, use_errno=True)
    MS_BIND = 4096

    def bind(source, target):
        if libc.mount(source.encode(), target.encode(), None, MS_BIND, None):
            sys.exit(f"{name}: bind {source} at {target}: {os.strerror(ctypes.get_errno())}")

    for own, folder in disks + shares:
        bind(own, folder)
    if shares:  # this process's mount table, with each share's bind mount declared an NFS mount of filer:/export
        points = {folder for _, folder in shares}
        lines = []
        with open("/proc/self/mountinfo") as table:
            for line in table:
                fields = line.split(" ")
                if fields[4] in points:
                    end = fields.index("-", 6)
                    fields[3], fields[end + 1], fields[end + 2] = "/", "nfs4", "filer:/export"
                lines.append(" ".join(fields))
        with tempfile.NamedTemporaryFile("w", suffix=".mountinfo", delete=False) as crafted:
            crafted.write("".join(lines))
        bind(crafted.name, f"/proc/{os.getpid()}/mountinfo")
        os.unlink(crafted.name)  # the mount keeps it

    from flowledger.plugin_api import Recorder, TransformSpec

    def record(path, text):
        '''Write `text` to `path` and record it as the output of a job: the job's run uid.'''
        with open(path, "w") as file:
            file.write(text)
        recorder = Recorder(os.environ["FLOWLEDGER_DB"])
        try:
            return recorder.record_job(TransformSpec(name="write", type="rule"), outputs=[path])
        finally:
            recorder.close()

    def show(value):
        print(json.dumps(value))

    exec(code)
""")


@functools.cache
def unshare() -> tuple[str | None, str]:
    """The unshare command, or None and why there is none to run as another host here."""
    command = shutil.which("unshare")
    if command is None:
        return None, "no unshare command to run as another host"
    allowed = subprocess.run([command, "--uts", "--mount", "true"], capture_output=True, text=True)
    if allowed.returncode:
        return None, f"unshare --uts --mount is not permitted here: {allowed.stderr.strip()}"
    return command, ""


def as_host(name, url, code, *, disks=(), shares=()):
    """Run `code` as host `name`, recording into ledger `url`, with `disks` and `shares` ((real folder, mount
    point) pairs) mounted: what it `show`s last."""
    command, why_not = unshare()
    if command is None:
        pytest.skip(why_not)
    mounts = [[[str(own), str(point)] for own, point in pairs] for pairs in (disks, shares)]
    done = subprocess.run(
        [command, "--uts", "--mount", sys.executable, "-c", AS_HOST, json.dumps([name, *mounts, code])],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "FLOWLEDGER_DB": url},
    )
    assert done.returncode == 0, f"{name}:\n{done.stderr}"
    return json.loads(done.stdout.splitlines()[-1])


def record_on(name, url, path, text, **mounts):
    """Host `name` writes `text` to `path` and records it as a job's output: the run's uid."""
    return as_host(name, url, f"show(record({str(path)!r}, {text!r}))", **mounts)


@contextlib.contextmanager
def ledger_at(url):
    ledger = open_ledger(resolve_ledger_path(url))
    try:
        yield ledger
    finally:
        ledger.close()


def versions(url, path):
    """Every version recorded at `path`, whichever its storage, as the ledger holds them (oldest first)."""
    with ledger_at(url) as ledger:
        return ledger.query(
            "SELECT a.uid, a.version, a.is_latest, a.storage_host, a.storage_root, a.hash, a.state, r.uid AS run, "
            "r.host AS run_host FROM artifacts a LEFT JOIN runs r ON r.id = a.run_id WHERE a.path = ? ORDER BY a.id",
            (str(path),),
        )


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def url(postgres_ledgers):
    return postgres_ledgers.fresh()


@pytest.fixture
def scratch(tmp_path):
    """tmp_path/scratch, where each host binds its own disk: (result.txt there, {host: its disk's mounts})."""
    point = tmp_path / "scratch"
    point.mkdir()
    own = {}
    for name in ("host-a", "host-b"):
        disk = tmp_path / "disks" / name
        disk.mkdir(parents=True)
        own[name] = {"disks": [(disk, point)]}
    return point / "result.txt", own


def test_local_disks_are_two_files(url, scratch):
    """The same path on two hosts' own disks: two artifacts, each with its own version history."""
    path, own = scratch
    run_a = record_on("host-a", url, path, "made on host-a\n", **own["host-a"])
    run_b = record_on("host-b", url, path, "made on host-b\n", **own["host-b"])

    assert not path.exists()  # the files are on the hosts' disks, not at this path here
    rows = versions(url, path)
    assert [(r["storage_host"], r["version"], r["is_latest"], r["hash"], r["run"]) for r in rows] == [
        ("host-a", 1, 1, sha256("made on host-a\n"), run_a),
        ("host-b", 1, 1, sha256("made on host-b\n"), run_b),
    ]
    assert rows[0]["uid"][:16] != rows[1]["uid"][:16]  # two artifacts, not two versions of one
    assert [r["storage_root"] for r in rows] == [str(path.parent)] * 2
    assert [r["run_host"] for r in rows] == ["host-a", "host-b"]

    run_a2 = record_on("host-a", url, path, "made again on host-a\n", **own["host-a"])

    rows = versions(url, path)
    assert [(r["storage_host"], r["version"], r["is_latest"], r["hash"], r["run"]) for r in rows] == [
        ("host-a", 1, 0, sha256("made on host-a\n"), run_a),
        ("host-b", 1, 1, sha256("made on host-b\n"), run_b),  # host-b's file is another file: untouched
        ("host-a", 2, 1, sha256("made again on host-a\n"), run_a2),
    ]
    assert rows[2]["uid"][:16] == rows[0]["uid"][:16]  # the next version of host-a's artifact


def test_share_is_one_file(url, tmp_path):
    """The same path on a share both hosts mount: one artifact, whose versions go on from host to host."""
    export, point = tmp_path / "filer-export", tmp_path / "share"
    export.mkdir()
    point.mkdir()
    path, share = point / "result.txt", {"shares": [(export, point)]}
    run_a = record_on("host-a", url, path, "made on host-a\n", **share)
    run_b = record_on("host-b", url, path, "overwritten on host-b\n", **share)

    assert (export / "result.txt").read_text() == "overwritten on host-b\n"  # one file, really shared
    rows = versions(url, path)
    assert [(r["storage_host"], r["version"], r["is_latest"], r["hash"], r["run"], r["run_host"]) for r in rows] == [
        (SHARE, 1, 0, sha256("made on host-a\n"), run_a, "host-a"),
        (SHARE, 2, 1, sha256("overwritten on host-b\n"), run_b, "host-b"),
    ]
    assert rows[0]["uid"][:16] == rows[1]["uid"][:16]  # versions of one artifact
    assert [r["storage_root"] for r in rows] == [str(point)] * 2

    # Either host finds the share's file by its path, with its whole history.
    look_up = f"a = fl.Artifact.filter(path={str(path)!r}).one()\nshow([a.uid, [v.version for v in a.versions]])"
    assert as_host("host-a", url, "import flowledger as fl\n" + look_up, **share) == [rows[1]["uid"], [1, 2]]


def test_each_host_reads_its_own_file(url, scratch):
    """Looking a path up on a host finds that host's file: by the Python API and by `flowledger lineage`."""
    path, own = scratch
    run_a = record_on("host-a", url, path, "made on host-a\n", **own["host-a"])
    run_b = record_on("host-b", url, path, "made on host-b\n", **own["host-b"])
    uid_of = {r["storage_host"]: r["uid"] for r in versions(url, path)}

    look_up = textwrap.dedent(f"""
        import flowledger as fl
        found = fl.Artifact.filter(path={str(path)!r}).one()
        lineage = subprocess.run(
            [sys.executable, "-m", "flowledger", "--db", os.environ["FLOWLEDGER_DB"], "lineage", {str(path)!r}],
            capture_output=True, text=True,
        )
        show([found.uid, found.storage_host, found.hash, lineage.returncode, lineage.stdout + lineage.stderr])
    """)
    uid, storage_host, digest, returncode, lineage = as_host("host-b", url, look_up, **own["host-b"])
    assert (uid, storage_host, digest) == (uid_of["host-b"], "host-b", sha256("made on host-b\n"))
    assert returncode == 0, lineage
    assert run_b in lineage and run_a not in lineage
    assert "changed" not in lineage and "missing" not in lineage  # checked against host-b's own file: unchanged

    uid, storage_host, *_ = as_host("host-a", url, look_up, **own["host-a"])
    assert (uid, storage_host) == (uid_of["host-a"], "host-a")

    # A third host (this one), where the path is on its own disk, has recorded nothing there.
    with ledger_at(url) as ledger:
        assert fl.Artifact.using(ledger).filter(path=str(path)).one_or_none() is None


# ---- Reading and re-recording: each host sees only its own file -------------------------------------------


def test_versions_of_another_hosts_file(url, scratch):
    """An artifact's versions are its own, wherever they are read: host-a's, also on host-b or a third host."""
    path, own = scratch
    record_on("host-a", url, path, "one\n", **own["host-a"])
    record_on("host-a", url, path, "two\n", **own["host-a"])
    record_on("host-b", url, path, "bee\n", **own["host-b"])
    latest_a = next(r["uid"] for r in versions(url, path) if r["storage_host"] == "host-a" and r["is_latest"])
    with ledger_at(url) as ledger:
        here = [[v.storage_host, v.version] for v in fl.Artifact.using(ledger).filter(uid=latest_a).one().versions]
    artifact = f"fl.Artifact.get({latest_a!r})"
    code = f"import flowledger as fl\nshow([[v.storage_host, v.version] for v in {artifact}.versions])"
    on_b = as_host("host-b", url, code, **own["host-b"])
    assert here == on_b == [["host-a", 1], ["host-a", 2]]  # now: [] here, [["host-b", 1]] on host-b


def test_missing_file_is_not_another_hosts_file(url, scratch):
    """A failed job on host-b names a path its disk does not hold: a missing input, not host-a's file."""
    path, own = scratch
    record_on("host-a", url, path, "made on host-a\n", **own["host-a"])
    code = textwrap.dedent(f"""
        recorder = Recorder(os.environ["FLOWLEDGER_DB"])
        show(recorder.record_job(TransformSpec(name="read", type="rule"), inputs=[{str(path)!r}], status="errored"))
    """)
    run = as_host("host-b", url, code, **own["host-b"])
    with ledger_at(url) as ledger:
        data = json.loads(ledger.query("SELECT json FROM runs WHERE uid = ?", (run,))[0]["json"] or "{}")
    assert [r["storage_host"] for r in versions(url, path)] == ["host-a"]  # now also a host-b one, host-a's hash
    assert list(data) == ["missing_inputs"]
    completed = code.replace(', status="errored"', "")  # a completed job read it: host-b's own gone file
    as_host("host-b", url, completed, **own["host-b"])
    found = [(r["storage_host"], r["hash"], r["state"]) for r in versions(url, path)]
    assert found == [("host-a", sha256("made on host-a\n"), None), ("host-b", None, "deleted")]


def test_export_by_path_is_this_hosts_file(url, scratch):
    """Exporting a path's lineage on host-b exports host-b's file."""
    path, own = scratch
    record_on("host-a", url, path, "made on host-a\n", **own["host-a"])
    record_on("host-b", url, path, "made on host-b\n", **own["host-b"])
    code = f"from flowledger.exporting import gather\nshow(gather({str(path)!r}).target.hash)"
    assert as_host("host-b", url, code, **own["host-b"]) == sha256("made on host-b\n")


def test_verify_names_no_version_of_another_hosts_file(url, scratch):
    """host-b's file, changed to the bytes host-a's file has, is changed: not a version of host-a's file."""
    path, own = scratch
    run_a = record_on("host-a", url, path, "same\n", **own["host-a"])
    record_on("host-b", url, path, "other\n", **own["host-b"])
    code = textwrap.dedent(f"""
        with open({str(path)!r}, "w") as file:
            file.write("same\\n")
        verify = [sys.executable, "-m", "flowledger", "verify", {str(path)!r}]
        done = subprocess.run(verify, capture_output=True, text=True)
        show(done.stdout + done.stderr)
    """)
    said = as_host("host-b", url, code, **own["host-b"])
    assert "changed" in said and run_a not in said, said
