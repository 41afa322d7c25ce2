"""flowledger plugin for redun: record every redun execution and job as flowledger Runs.

- `.redun/redun.ini`: `[scheduler]` / `setup_scheduler = flowledger_redun::setup_scheduler`
- Python: `flowledger_redun.Scheduler` (a recording `redun.Scheduler`, same arguments)
- `from flowledger_redun import task`: `redun.task` plus lineage metadata, same task hash
- `flowledger redun import`: executions that ran without the plugin

Names are resolved lazily, so that the core can load `flowledger_redun.hooks` (the CLI hook)
without importing redun.

Layout: an intake (`scheduler` live, `decorator` for task metadata, `importer` from redun.db, `hooks`
for the CLI) feeds one `tracker.Tracker` per live execution; both the tracker and the importer ask
`mapping` (pure) what redun's data becomes, and record through the core's recorder.
"""

from importlib import import_module
from typing import Any

DEFAULT_DB_URI = "sqlite:///.redun/redun.db"  # where `redun run` keeps its database, by default

_EXPORTS = {
    "task": "decorator",
    "Scheduler": "scheduler",
    "setup_scheduler": "scheduler",
    "import_executions": "importer",
}

__all__ = ["DEFAULT_DB_URI", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
