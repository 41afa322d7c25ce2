"""flowledger plugin for redun: record every redun execution and job as flowledger Runs.

- `.redun/redun.ini`: `[scheduler]` / `setup_scheduler = flowledger_redun::setup_scheduler`
- Python: `flowledger_redun.Scheduler` (a recording `redun.Scheduler`, same arguments)
- `from flowledger_redun import task`: `redun.task` plus lineage metadata, same task hash
- `flowledger redun import`: executions that ran without the plugin

Names are resolved lazily, so that the core can load `flowledger_redun.hooks` (the CLI hook)
without importing redun.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "task": "decorator",
    "Scheduler": "scheduler",
    "setup_scheduler": "scheduler",
    "import_executions": "importer",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
