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

from .errors import LedgerError
from .location import ENV_VAR, ServerLedger, resolve_ledger_path
from .migrations import Migrations, applied, check_schema_known

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


def open_ledger(where: str | os.PathLike | ServerLedger, *, adopt_empty: bool = False) -> Any:
    """A new connection to the ledger at `where`: a file (SQLite), or a server (`ServerLedger`)."""
    if isinstance(where, ServerLedger):
        from .postgres import PostgresLedger

        return PostgresLedger(where, adopt_empty=adopt_empty)
    return Ledger(where, adopt_empty=adopt_empty)


_local = threading.local()


def get_ledger(db: str | os.PathLike | ServerLedger | None = None) -> Ledger:
    """The ledger for `db` (resolved as everywhere), opened once per thread and path."""
    cache = getattr(_local, "ledgers", None)
    if cache is None:
        cache = _local.ledgers = {}
    chosen = db or os.environ.get(ENV_VAR)
    if chosen:  # the hot path of the Python API: the same setting in the same folder is the same ledger
        key = (str(chosen) if isinstance(chosen, ServerLedger) else os.fspath(chosen), os.getcwd())
        ledger = cache.get(key)
        if ledger is not None and not ledger.closed:
            return ledger
    path = resolve_ledger_path(db)
    ledger = cache.get(path)
    if ledger is None or ledger.closed:
        ledger = cache[path] = open_ledger(path)
    if chosen:
        cache[key] = ledger
    return ledger


def existing_ledger(db: str | os.PathLike | ServerLedger | None = None) -> Any:
    """The ledger for `db`, for commands that only read: a file that does not exist is an error, not a new
    ledger. (A server's ledger is opened as it is: an unreachable server is its own clear error.)"""
    where = resolve_ledger_path(db)
    if not isinstance(where, ServerLedger) and not where.exists():
        raise LedgerError(f"no ledger at {where}: record a run first, or run `flowledger init`")
    return get_ledger(where)


def forget_ledgers() -> None:
    """Close this thread's cached connections (tests switch ledgers often)."""
    for ledger in getattr(_local, "ledgers", {}).values():
        ledger.close()
    _local.ledgers = {}
