"""Where the ledger lives: one rule for the CLI, Python and every plugin (DESIGN.md).

`--db` (passed in as `db`), else `FLOWLEDGER_DB`, else the nearest `.flowledger/ledger.db` walking up
from the current directory, else a per-user default.
"""

import os
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


def resolve_ledger_path(db: str | os.PathLike | None = None) -> Path:
    chosen = db or os.environ.get(ENV_VAR)
    if chosen:
        path = Path(chosen).expanduser()
        if path.is_dir():
            path = path / LEDGER_NAME
        return path.absolute()
    return find_project_ledger() or user_default()
