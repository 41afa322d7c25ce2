"""A throw-away PostgreSQL cluster for the tests: Debian's server binaries, `initdb` + `pg_ctl` as a
non-root user, in a temporary folder, on a Unix socket and a free loopback port.

The superuser (`flowledger`) connects through the socket without a password; over TCP every role needs
its password, so the tests can see a refused one.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "flowledger"


def server_bin() -> Path | None:
    """The folder of Debian's PostgreSQL server programs (the newest installed), if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    folder: Path
    bin: Path
    port: int
    os_user: str | None  # who runs the server when the tests run as root

    @property
    def socket_dir(self) -> Path:
        return self.folder / "socket"

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self.os_user, "--"] if self.os_user else []
        return subprocess.run([*prefix, *command], check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        data = self.folder / "data"
        self._run(
            str(self.bin / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth-local=trust",
            "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        with open(data / "postgresql.conf", "a") as conf:  # (fsync off: a commit still reaches the WAL first)
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.socket_dir}'\n"
                "fsync = off\nfull_page_writes = off\nmax_connections = 100\n"
            )
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.folder / "server.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", mode, "-w", "stop", check=False)

    def resume(self) -> None:
        """Start a stopped server again (same data, same port)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-l", str(self.folder / "server.log"),
                  "-w", "start")  # fmt: skip

    def restart(self) -> None:
        """As a crash and a restart: every connection is dropped."""
        self.stop("immediate")
        self.resume()

    def url(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        """A libpq URL through the Unix socket."""
        return f"postgresql://{user}@/{database}?host={self.socket_dir}&port={self.port}"

    def tcp_url(self, database: str, user: str) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(statement)

    def new_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        self.sql(f"CREATE DATABASE {name}")
        return name


def start_server() -> PostgresServer | None:
    """A started server, or None where no PostgreSQL server programs are installed."""
    binaries = server_bin()
    if binaries is None:
        return None
    os_user = None
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as Debian's `postgres` (or nobody)
        os_user = next((name for name in ("postgres", "nobody") if _exists(name)), None)
    folder = Path(tempfile.mkdtemp(prefix="flowledger-pg-"))
    (folder / "socket").mkdir()
    if os_user:
        entry = pwd.getpwnam(os_user)
        for path in (folder, folder / "socket"):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(folder, binaries, _free_port(), os_user)
    server.start()
    return server


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
        return True
    except KeyError:
        return False


class LedgerDatabases:
    """Ledgers on one server for many tests: one database, emptied before each test (faster than a new one)."""

    def __init__(self, server: PostgresServer):
        self.server = server
        self.database = server.new_database()
        self.migrated = False

    def fresh(self) -> str:
        """The URL of an empty ledger."""
        url = self.server.url(self.database)
        if not self.migrated:
            from flowledger.location import ServerLedger
            from flowledger.store import open_ledger

            open_ledger(ServerLedger(url)).close()
            self.migrated = True
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                    "AND table_type = 'BASE TABLE' AND table_name <> '_sqlite_migrations'"
                )
            ]
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        return url


def read_ledger(monkeypatch, url: str):
    """The `fl` API, reading the ledger at `url` (and the subprocesses started afterwards, too)."""
    from flowledger.store import forget_ledgers

    monkeypatch.setenv("FLOWLEDGER_DB", url)
    forget_ledgers()
    import flowledger as fl

    return fl
