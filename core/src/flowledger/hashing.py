"""Content hashes with a stat cache, so that each unchanged file is read once, ever.

The cache key is (path, size, mtime_ns, inode); entries live in the ledger's `hash_cache` table and in
memory. In a shared ledger (on a server) the path is qualified by the storage holding it: another host's own
disk holds another file at the same path. Folders hash their sorted (relative path, file hash) list.
"""

import hashlib
import os
import stat as stat_module
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .mounts import storage_of
from .paths import located

WARM_MIN_BYTES = 16 << 20  # files smaller than this are hashed one after the other (threads cost more)


@dataclass
class Content:
    path: str  # where the file is: its folders resolved through symlinks
    kind: str  # "file", "folder", or a special file's kind: "fifo", "socket", "device"
    size: int | None
    hash: str | None  # None for special files (never opened), and for gone files nothing was known of
    hash_type: str | None
    new_cache_rows: list = field(default_factory=list)  # rows the caller writes to hash_cache
    user_path: str | None = None  # the path as given, when it differs from `path` (through a symlink)
    gone: bool = False  # the file no longer existed when it was recorded


@dataclass
class Prepared:
    """A job's files, hashed before the write transaction so a large output never holds the lock."""

    inputs: list[Content] = field(default_factory=list)
    outputs: list[Content] = field(default_factory=list)
    logs: list[Content] = field(default_factory=list)
    environment: Content | None = None
    report: Content | None = None
    problems: dict[str, list[str]] = field(default_factory=dict)  # e.g. {"missing_outputs": ["x: no such ..."]}

    def cache_rows(self) -> list:
        everything = [*self.inputs, *self.outputs, *self.logs, self.environment, self.report]
        return [row for content in everything if content for row in content.new_cache_rows]


class Hasher:
    """Hashes paths for one ledger, remembering what it has seen."""

    def __init__(self, ledger):
        self.ledger = ledger
        self.shared = getattr(ledger, "dialect", "sqlite") != "sqlite"
        self.memory: dict[str, tuple] = {}
        self.prefetched: dict[str, dict | None] = {}  # cache key -> its hash_cache row, during one prepare()
        from .plugins import load_plugins, pm  # pluggy is imported when something is recorded

        load_plugins()
        self._hooks = pm.hook
        self.warmed: dict[str, tuple] = {}  # path -> (size, mtime_ns, inode, hash, hash_type), from warm()

    def warm(self, paths: list, workers: int) -> None:
        """Hash large files among `paths` that no cache knows, `workers` at a time (hashlib and file reads
        release the GIL): outputs that finished together hash on all cores, not one after the other. The
        results wait in `warmed` for `prepare()`, which records them as usual."""
        todo: dict[str, tuple[int, int, int]] = {}
        for path in paths:
            try:
                where = located(path)[0]
                stat = os.stat(where)
            except (OSError, InputError):
                continue
            key = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
            known = self.memory.get(where)
            if (
                stat_module.S_ISREG(stat.st_mode)
                and stat.st_size >= WARM_MIN_BYTES
                and not (known and known[:3] == key)
            ):
                todo[where] = key
        if len(todo) < 2:
            return
        marks = ", ".join("?" * len(todo))
        keys = {self._cache_key(where): where for where in todo}
        for row in self.ledger.query(
            f"SELECT path, size, mtime_ns, inode FROM hash_cache WHERE path IN ({marks})", list(keys)
        ):
            where = keys[row["path"]]
            if todo.get(where) == (row["size"], row["mtime_ns"], row["inode"]):
                del todo[where]  # known already: prepare() finds it
        if len(todo) < 2:
            return
        from concurrent.futures import ThreadPoolExecutor

        def digest(where: str) -> tuple | None:
            try:
                return self._hooks.compute_hash(path=where)
            except OSError:
                return None  # prepare() meets the same error and reports it

        with ThreadPoolExecutor(min(workers, len(todo)), thread_name_prefix="flowledger-hash") as pool:
            for (where, key), found in zip(todo.items(), pool.map(digest, todo)):
                if found is not None:
                    self.warmed[where] = (*key, *found)

    def prepare(self, *, inputs=(), outputs=(), logs=(), environment=None, report=None, ran=False) -> Prepared:
        """Hash every path; a path that cannot be hashed is listed in `problems` instead.

        `ran`: the job completed, so its inputs and outputs existed: one that is gone now, with nothing
        known of it (a pipe Snakemake removed, a work dir already cleaned), is still a node of the lineage,
        `deleted` and without a hash. (Of a failed job, it is listed as missing: it may never have existed.)
        """
        prepared = Prepared()
        self._prefetch([inputs, outputs, logs, [environment] if environment else [], [report] if report else []])
        prepared.inputs = self._contents(inputs, "missing_inputs", prepared, ran)
        prepared.outputs = self._contents(outputs, "missing_outputs", prepared, ran)
        prepared.logs = self._contents(logs, "missing_logs", prepared)
        if environment:
            prepared.environment = next(iter(self._contents([environment], "missing_environment", prepared)), None)
        if report:
            prepared.report = next(iter(self._contents([report], "missing_report", prepared)), None)
        self.prefetched = {}
        return prepared

    def _prefetch(self, groups: list) -> None:
        """The stat cache's rows for all of a call's files, in one query (not one per file: on a server, each
        query is a round trip)."""
        self.prefetched = {}
        given = [path for paths in groups for path in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]
        if len(given) < 2:  # (one file: its own query, as before)
            return
        keys = []
        for path in given:
            try:
                where = located(path)[0]
            except InputError:
                continue
            if where not in self.memory:
                keys.append(self._cache_key(where))
        if len(keys) < 2:
            return
        self.prefetched = dict.fromkeys(keys)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            for row in self.ledger.query(
                "SELECT path, size, mtime_ns, inode, hash, hash_type FROM hash_cache "
                f"WHERE path IN ({', '.join('?' * len(chunk))})",
                chunk,
            ):
                self.prefetched[row["path"]] = row

    def _contents(self, paths, problem_key: str, prepared: Prepared, ran: bool = False) -> list[Content]:
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        found, seen = [], set()
        for path in paths:
            try:
                content = self.content(path, ran)
            except InputError as problem:
                prepared.problems.setdefault(problem_key, []).append(str(problem))
                continue
            if content.path not in seen:
                seen.add(content.path)
                found.append(content)
        return found

    def content(self, path: str | os.PathLike, ran: bool = False) -> Content:
        """The file or folder at `path`, hashed. A file that is gone is still a node of the lineage when
        something is known of it (its hash from earlier: a temp() output its maker recorded, say), or when
        a completed job used it (`ran`)."""
        path, given = located(path)
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            gone = self._gone(path)
            if gone is None and ran:
                gone = Content(path, "file", None, None, None, gone=True)
            if gone is None:
                raise InputError(f"{given}: no such file or folder") from None
            gone.user_path = given if given != path else None
            return gone
        except OSError as error:
            raise InputError(f"{given}: cannot be read ({error.strerror})") from None
        content = self._present(path, stat)
        content.user_path = given if given != path else None
        return content

    def _present(self, path: str, stat: os.stat_result) -> Content:
        special = special_kind(stat.st_mode)
        if special:  # a pipe, socket or device: opening it could block forever, and it holds no content
            return Content(path, special, 0, None, None)
        if stat_module.S_ISDIR(stat.st_mode):
            return self._folder(path)
        rows: list = []
        digest, hash_type = self._file(path, stat, rows)
        return Content(path, "file", stat.st_size, digest, hash_type, rows)

    def _gone(self, path: str) -> Content | None:
        """What is known of a file that no longer exists: its hash from this process, the stat cache, or
        its latest record (None: nothing, so it is listed as missing instead)."""
        remembered = self.memory.get(path)
        if remembered:
            return Content(path, "file", remembered[0], remembered[3], remembered[4], gone=True)
        for row in self.ledger.query(
            "SELECT size, hash, hash_type, 'file' AS kind FROM hash_cache WHERE path = ? UNION ALL "
            "SELECT size, hash, hash_type, kind FROM artifacts WHERE path = ? AND is_latest = 1 "
            "AND coalesce(storage_host, ?) = ?",
            (self._cache_key(path), path, *[storage_of(path).host] * 2),
        ):
            return Content(path, row["kind"], row["size"], row["hash"], row["hash_type"], gone=True)
        return None

    def _file(self, path: str, stat: os.stat_result, rows: list) -> tuple[str, str]:
        key = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        cached = self.memory.get(path)
        if cached and cached[:3] == key:
            return cached[3], cached[4]
        cache_key = self._cache_key(path)
        warmed = self.warmed.pop(path, None)
        if warmed is not None and warmed[:3] == key:
            digest, hash_type = warmed[3], warmed[4]
            rows.append((cache_key, *key, digest, hash_type))
            self.memory[path] = warmed
            return digest, hash_type
        if cache_key in self.prefetched:  # (read with the call's other files)
            row = self.prefetched[cache_key]
            found = [row] if row and (row["size"], row["mtime_ns"], row["inode"]) == key else []
        else:
            found = self.ledger.query(
                "SELECT hash, hash_type FROM hash_cache WHERE path = ? AND size = ? AND mtime_ns = ? AND inode = ?",
                (cache_key, *key),
            )
        if found:
            digest, hash_type = found[0]["hash"], found[0]["hash_type"]
        else:
            try:
                digest, hash_type = self._hooks.compute_hash(path=path)
            except OSError as error:
                raise InputError(f"{path}: cannot be read ({error.strerror})") from None
            rows.append((cache_key, *key, digest, hash_type))
        self.memory[path] = (*key, digest, hash_type)
        return digest, hash_type

    def _cache_key(self, path: str) -> str:
        return f"{storage_of(path).host}:{path}" if self.shared else path

    def _folder(self, folder: str) -> Content:
        rows: list = []
        listing = hashlib.sha256()
        total = 0
        for file in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            stat = file.stat()
            digest, _ = self._file(str(file), stat, rows)
            listing.update(f"{file.relative_to(folder).as_posix()}\0{digest}\n".encode())
            total += stat.st_size
        return Content(folder, "folder", total, listing.hexdigest(), "sha256-dir", rows)


def special_kind(mode: int) -> str | None:
    """The kind of a special file (recorded, never opened), or None for a regular file or folder."""
    if stat_module.S_ISFIFO(mode):
        return "fifo"
    if stat_module.S_ISSOCK(mode):
        return "socket"
    if stat_module.S_ISCHR(mode) or stat_module.S_ISBLK(mode):
        return "device"
    return None
