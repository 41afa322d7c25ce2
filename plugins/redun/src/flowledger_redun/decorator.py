"""`flowledger_redun.task`: `redun.task` plus lineage metadata that redun never sees.

The metadata lives in a side registry keyed by the task's full name, not in the Task: redun hashes
a task from its name and source (or `version=`), and hands its options and signature to
`redun run --help` and to its database. Passing everything else through unchanged keeps the task
hash, so turning recording on does not invalidate redun's cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redun

# task fullname -> {"description": ..., "key": ...}
LINEAGE: dict[str, dict[str, Any]] = {}


def task(
    func: Callable | None = None,
    *,
    description: str | None = None,
    key: str | None = None,
    **task_options: Any,
) -> redun.Task | Callable[[Callable], redun.Task]:
    """Drop-in for `redun.task` (same arguments, same Task, same hash).

    description: what the task does (the Transform's description; default: the docstring's first line).
    key: a label for the task's outputs, kept in the job Run's json as `output_key`.
    Returns the Task, or a decorator when called with options only (`@task(...)`).
    """

    def deco(f: Callable) -> redun.Task:
        made = redun.task(**task_options)(f)
        LINEAGE[made.fullname] = {"description": description, "key": key}
        return made

    return deco(func) if func is not None else deco


def lineage_of(task_fullname: str) -> dict[str, Any]:
    """The metadata given to `task(...)` for this task, or {} for plain redun tasks (`mapping` reads it)."""
    return LINEAGE.get(task_fullname, {})
