"""Where the ledger lives: one rule for the CLI, Python and every plugin.

`--db` (passed in as `db`), else `FLOWLEDGER_DB`, else the nearest `.flowledger/ledger.db` walking up
from the current directory, else a per-user default. A `postgresql://` URL in either place names a shared
ledger on a PostgreSQL server instead of a file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "FLOWLEDGER_DB"
PROJECT_DIR = ".flowledger"
LEDGER_NAME = "ledger.db"


def user_default() -> Path:
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "flowledger" / LEDGER_NAME


def find_project_ledger(start: Path | None = None) -> Path | None:
    """The nearest `.flowledger/ledger.db` in `start` or one of its parents."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_DIR).is_dir():
            return folder / PROJECT_DIR / LEDGER_NAME
    return None


SERVER_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class ServerLedger:
    """A ledger on a PostgreSQL server, named by a libpq URL (passwords come from libpq: PGPASSWORD,
    ~/.pgpass, service files). Printed, it hides any password written into the URL."""

    url: str

    def __str__(self) -> str:
        return re.sub(r"(://[^:/@?]*):[^@/?]*@", r"\1:***@", self.url)

    @property
    def parent(self) -> Path:
        """The local folder for what a file ledger keeps beside itself (environment snapshots, spools)."""
        return user_default().parent / "servers" / re.sub(r"[^A-Za-z0-9_.-]+", "_", str(self).split("://", 1)[1])

    @property
    def name(self) -> str:
        return str(self)


def is_server_url(text: object) -> bool:
    return isinstance(text, str) and text.startswith(SERVER_SCHEMES)


def absolute_setting(db: str | os.PathLike) -> str:
    """A ledger setting to hand to another process (another folder): a file made absolute, a URL as it is."""
    text = os.fspath(db)
    return text if is_server_url(text) else str(Path(text).expanduser().absolute())


def resolve_ledger_path(db: str | os.PathLike | ServerLedger | None = None) -> Path | ServerLedger:
    """The ledger's file, or its server (`ServerLedger`) when the setting is a `postgresql://` URL."""
    chosen = db or os.environ.get(ENV_VAR)
    if isinstance(chosen, ServerLedger):
        return chosen
    if chosen and is_server_url(os.fspath(chosen)):
        return ServerLedger(os.fspath(chosen))
    if chosen:
        path = Path(chosen).expanduser()
        if path.is_dir():
            path = path / LEDGER_NAME
        return path.absolute()
    return find_project_ledger() or user_default()
