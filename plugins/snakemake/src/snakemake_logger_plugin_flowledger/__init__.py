"""Snakemake 9 logger plugin `flowledger`: `snakemake --logger flowledger` records lineage.

Snakemake discovers this package by its name (`snakemake_logger_plugin_<name>`) and reads `LogHandler`
and `LogHandlerSettings` from it; they live in `logger` and load on first use, so that flowledger, which
loads this package's `hooks` as a plugin in every recording process, does not import Snakemake's
interface packages for nothing.

Modules: `logger` (the Snakemake 9 intake), `events` (intake: records and messages -> event
dataclasses), `workflow_info` (intake: what Snakemake's live objects know), `tracker` (`Tracker`: the
state of one invocation), `mapping` (pure: Snakemake's data -> TransformSpec, run fields, paths),
`handler8` (the Snakemake 8 intake), `hooks` (the `flowledger snakemake` commands).
"""

from typing import Any

_FROM_LOGGER = frozenset({"LogHandler", "LogHandlerSettings", "warn_failed"})


def __getattr__(name: str) -> Any:
    if name in _FROM_LOGGER:
        from . import logger

        return getattr(logger, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
