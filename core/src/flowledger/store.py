"""The ledger: one SQLite file in WAL mode, migrated on open.

Writers take the write lock up front (`BEGIN IMMEDIATE`) and retry with back-off while another
process holds it, so several pipelines can share a ledger without "database is locked".
"""

import contextlib
import fcntl
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import LedgerError, ServerUnreachable
from .location import ENV_VAR, ServerLedger, resolve_ledger_path
from .migrations import Migrations, applied, check_schema_known
from .warn import WarnOnce

DURABILITY_VAR = "FLOWLEDGER_DURABILITY"

BUSY_TIMEOUT_MS = 5_000
LOCK_PATIENCE_S = 600.0  # how long a writer waits for others before it gives up


def durability() -> str:
    """SQLite's `synchronous` level: NORMAL (the default: an OS crash may drop the last commits, never
    corrupt the ledger) or FULL (every commit reaches the disk; slower, see bench/core_record.py)."""
    wanted = os.environ.get(DURABILITY_VAR, "normal").strip().lower()
    if wanted not in ("normal", "full"):
        raise LedgerError(f"{DURABILITY_VAR}={wanted!r}: use 'normal' or 'full'")
    return wanted.upper()


def _describe(path: Path, error: sqlite3.Error) -> LedgerError:
    text = str(error)
    if "not a database" in text or "malformed" in text:
        return LedgerError(f"ledger {path} is corrupt or not a flowledger ledger (SQLite: {text})")
    if "readonly" in text or "read-only" in text:
        return LedgerError(f"ledger {path} is read-only: nothing can be recorded there (SQLite: {text})")
    if "unable to open" in text:
        return LedgerError(f"ledger {path} cannot be opened (SQLite: {text})")
    return LedgerError(f"ledger {path}: {text}")


class Ledger:
    """One connection to one ledger file; use `get_ledger()` for the shared per-thread instance.

    A path that does not exist yet becomes a new ledger. An existing file must be a flowledger ledger
    of a schema this version knows: anything else is refused with a clear error and left untouched
    (an empty file only when `adopt_empty`, which `flowledger init` asks for).
    """

    dialect = "sqlite"

    def __init__(self, path: str | os.PathLike, *, adopt_empty: bool = False):
        self.path = Path(path)
        self.lock = threading.RLock()
        self.on_rollback: list = []  # callbacks: forget ids cached inside a rolled-back transaction
        self.recorder: Any = None  # the Python API's Recorder on this connection (`recorder.recorder_for`)
        self.spooled_for: ServerLedger | None = None  # the server this ledger stands in for (a spool)
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise LedgerError(f"ledger folder {self.path.parent} cannot be created: {error.strerror}") from None
        try:
            if self._size() > 0:
                self.conn = self._connect()
                if self._tables() - {"_sqlite_migrations"}:
                    self._check_is_ledger()
                else:
                    with self._file_lock():  # another process may be making it: a ledger once migrated
                        self._check_is_ledger()
                self._configure(self.conn)
                self.migrate()
                return
            with self._file_lock():  # one process makes a new ledger; the others wait, then find it made
                if self._size() == 0 and self.path.exists() and not adopt_empty:
                    raise LedgerError(
                        f"{self.path} is an empty file, not a flowledger ledger: nothing was "
                        f"changed (`flowledger --db {self.path} init` makes it one)"
                    )
                self.conn = self._connect()
                if self._size() > 0:
                    self._check_is_ledger()
                self._configure(self.conn)
                self.migrate(locked=True)
        except sqlite3.Error as error:
            raise _describe(self.path, error) from None

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0
        except OSError as error:
            raise LedgerError(f"ledger {self.path} cannot be read: {error.strerror}") from None

    def _tables(self) -> set[str]:
        return {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _check_is_ledger(self) -> None:
        """Refuse a database that is not ours, before anything (even WAL mode) is written to it."""
        tables = self._tables()
        if "runs" in tables and "flowledger" in applied(self.conn):
            return
        self.conn.close()
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "") if tables else "no tables"
        raise LedgerError(
            f"{self.path} is not a flowledger ledger (an SQLite database with {shown}): "
            "nothing was changed; pass the path of a ledger, or a new path"
        )

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the file for real
            return conn
        except sqlite3.OperationalError:
            if not self.path.exists() or os.access(self.path.parent, os.W_OK):
                raise
        # a ledger on a read-only disk or folder: open it for reading; writes then fail with a clear error
        for options in ("mode=ro", "immutable=1"):
            try:
                conn = sqlite3.connect(
                    f"{self.path.as_uri()}?{options}", uri=True, isolation_level=None, check_same_thread=False
                )
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return conn
            except sqlite3.OperationalError as error:
                last = error
        raise last

    def _configure(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        self._set_wal(conn)
        conn.execute(f"PRAGMA synchronous = {durability()}")

    def _set_wal(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlite3.OperationalError as error:
            if "readonly" not in str(error):  # a read-only ledger can still be read
                raise

    @property
    def db(self):
        """The ledger as a `sqlite_utils.Database` (imported on first use: it is slow to import)."""
        from .sqlite import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def migrate(self, locked: bool = False) -> None:
        """Apply pending migrations of the core and of plugins, one process at a time.

        A ledger that a newer flowledger migrated further is refused before anything is written.
        """
        from .plugins import migration_sets

        sets = migration_sets()
        check_schema_known(self.conn, self.path)
        if not any(self._pending(s) for s in sets):
            return
        with contextlib.nullcontext() if locked else self._file_lock():
            for migration_set in sets:
                migration_set.apply(self.conn if isinstance(migration_set, Migrations) else self.db)

    def _pending(self, migration_set) -> bool:
        """Our own sets answer with one SELECT; a plugin's sqlite-utils set needs sqlite-utils."""
        return bool(migration_set.pending(self.conn if isinstance(migration_set, Migrations) else self.db))

    @contextlib.contextmanager
    def _file_lock(self):
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            handle = open(lock_path, "a")  # noqa: SIM115  (closed by the `with` below)
        except OSError as error:
            message = f"ledger {self.path} cannot be created or migrated ({lock_path}: {error.strerror})"
            raise LedgerError(message) from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def write(self):
        """A write transaction holding the write lock; waits (with back-off) while others write.

        Nested calls join the outer transaction, so a caller can batch several records in one commit.
        """
        with self.lock:
            if self.conn.in_transaction:
                yield self.conn
                return
            self._begin_immediate()
            try:
                yield self.conn
            except sqlite3.Error as error:
                self._rollback()
                raise _describe(self.path, error) from None
            except BaseException:
                self._rollback()
                raise
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as error:
                self._rollback()
                raise _describe(self.path, error) from None

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        for forget in self.on_rollback:
            forget()

    def _begin_immediate(self) -> None:
        deadline = time.monotonic() + LOCK_PATIENCE_S
        delay = 0.01
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise _describe(self.path, error) from None
                if time.monotonic() > deadline:
                    raise LedgerError(
                        f"ledger {self.path} stayed locked by another writer for {LOCK_PATIENCE_S:.0f} s"
                    ) from None
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.5)

    def stream(self, sql: str, params=(), size: int = 200) -> Iterator[tuple[list[str], list]]:
        """(column names, rows) `size` rows at a time, the first ones before the rest is read."""
        try:
            with self.lock:
                cursor = self.conn.execute(sql, params)
                names = [c[0] for c in cursor.description or ()]
            while True:
                with self.lock:
                    rows = cursor.fetchmany(size)
                if not rows:
                    return
                yield names, rows
        except sqlite3.DatabaseError as error:
            raise _describe(self.path, error) from None

    def query(self, sql: str, params=()) -> list[dict[str, Any]]:
        with self.lock:
            try:
                cursor = self.conn.execute(sql, params)
                names = [c[0] for c in cursor.description or ()]
                return [dict(zip(names, row)) for row in cursor.fetchall()]
            except sqlite3.DatabaseError as error:
                raise _describe(self.path, error) from None

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True
        self.conn.close()


def open_ledger(where: str | os.PathLike | ServerLedger, *, adopt_empty: bool = False, spool: bool = True) -> Any:
    """A new connection to the ledger at `where`: a file (SQLite), or a server (`ServerLedger`).

    Recording must not stop when the server does: with `spool`, a server that cannot be reached (down,
    unknown, refusing the password) gives the local spool ledger instead, with one warning; its runs are
    pushed at the next connection that succeeds (`flowledger push` does it by hand). Commands that only
    read pass `spool=False` and get the error.
    """
    if not isinstance(where, ServerLedger):
        return Ledger(where, adopt_empty=adopt_empty)
    from .postgres import PostgresLedger

    try:
        ledger = PostgresLedger(where, adopt_empty=adopt_empty)
    except ServerUnreachable as error:
        if not spool:
            raise
        return spool_ledger(where, error)
    if spool:
        push_spooled(where, ledger)
    return ledger


SPOOL_QUIET_S = 60.0  # a spool written to this recently may still be in use: pushed later, or by hand


def spool_ledger(where: ServerLedger, error: LedgerError) -> Ledger:
    """The local spool of the server ledger `where` (SQLite), announced once per process."""
    from .copying import spool_path

    path = spool_path(where)
    ledger = Ledger(path)
    ledger.spooled_for = where
    _spool_warning(
        f"flowledger cannot reach its ledger server ({error}); recording goes on into the local spool {path}, "
        "pushed at the next connection (or by `flowledger push`). The pipeline is not affected."
    )
    return ledger


def push_spooled(where: ServerLedger, ledger: Any) -> None:
    """Push what was spooled while the server was unreachable, unless it may still be being written."""
    from .copying import push_spool, spool_path

    path = spool_path(where)
    try:
        if not path.exists() or time.time() - max(_mtimes(path)) < SPOOL_QUIET_S:
            return
        report = push_spool(Ledger(path), ledger)
    except Exception as error:  # the spool stays; pushing is idempotent
        _spool_warning(f"flowledger could not push its spool {path} to {where} ({error}); `flowledger push` retries")
        return
    if report.conflicts:
        _spool_warning(f"flowledger kept its spool {path}: {len(report.conflicts)} conflicts (`flowledger push`)")


def _mtimes(path: Path) -> list[float]:
    found = [path.stat().st_mtime]
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        found.append(wal.stat().st_mtime)
    return found


_spool_warning = WarnOnce()


_local = threading.local()


def get_ledger(db: str | os.PathLike | ServerLedger | None = None, *, spool: bool = True) -> Any:
    """The ledger for `db` (resolved as everywhere), opened once per thread and path. Without `spool`, a
    server's ledger is the server's or an error, never the local spool (`open_ledger`)."""
    cache = getattr(_local, "ledgers", None)
    if cache is None:
        cache = _local.ledgers = {}
    chosen = db or os.environ.get(ENV_VAR)
    if chosen:  # the hot path of the Python API: the same setting in the same folder is the same ledger
        key = (str(chosen) if isinstance(chosen, ServerLedger) else os.fspath(chosen), os.getcwd())
        ledger = cache.get(key)
        if _usable(ledger, spool):
            return ledger
    path = resolve_ledger_path(db)
    ledger = cache.get(path)
    if not _usable(ledger, spool):
        ledger = cache[path] = open_ledger(path, spool=spool)
    if chosen:
        cache[key] = ledger
    return ledger


def _usable(ledger: Any, spool: bool) -> bool:
    return ledger is not None and not ledger.closed and (spool or getattr(ledger, "spooled_for", None) is None)


def existing_ledger(db: str | os.PathLike | ServerLedger | None = None) -> Any:
    """The ledger for `db`, for commands that only read: a file that does not exist is an error, not a new
    ledger. (A server's ledger is opened as it is: an unreachable server is its own clear error.)"""
    where = resolve_ledger_path(db)
    if not isinstance(where, ServerLedger):
        if not where.exists():
            raise LedgerError(f"no ledger at {where}: record a run first, or run `flowledger init`")
        return get_ledger(where)
    return get_ledger(where, spool=False)  # a read needs the server itself


def forget_ledgers() -> None:
    """Close this thread's cached connections (tests switch ledgers often)."""
    for ledger in getattr(_local, "ledgers", {}).values():
        ledger.close()
    _local.ledgers = {}
