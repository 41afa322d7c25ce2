"""`flowledger_redun.task`: `redun.task` plus lineage metadata that redun never sees.

The metadata lives in a side registry keyed by the task's full name, not in the Task: redun hashes
a task from its name and source (or `version=`), and hands its options and signature to
`redun run --help` and to its database. Passing everything else through unchanged keeps the task
hash, so turning recording on does not invalidate redun's cache.
"""

from __future__ import annotations

import ast
import textwrap
from typing import Any, Callable, Optional

import redun

# task fullname -> {"description": ..., "key": ...}
LINEAGE: dict[str, dict[str, Any]] = {}


def task(
    func: Optional[Callable] = None,
    *,
    description: Optional[str] = None,
    key: Optional[str] = None,
    **task_options: Any,
):
    """Drop-in for `redun.task` (same arguments, same Task, same hash).

    description: what the task does (the Transform's description; default: the docstring's first line).
    key: a label for the task's outputs, kept in the job Run's json as `output_key`.
    """

    def deco(f: Callable) -> redun.Task:
        made = redun.task(**task_options)(f)
        LINEAGE[made.fullname] = {"description": description, "key": key}
        return made

    return deco(func) if func is not None else deco


def lineage_of(task_fullname: str) -> dict[str, Any]:
    """The metadata given to `task(...)` for this task, or {} for plain redun tasks."""
    return LINEAGE.get(task_fullname, {})


def describe(task_fullname: str, source: Optional[str]) -> Optional[str]:
    """A task's description: the one given to `task(...)`, else its docstring's first line.

    The docstring is read from the task's source, which both the live observer (`Task.source`) and
    the importer (redun.db keeps it) have, so that both describe a task alike.
    """
    given = lineage_of(task_fullname).get("description")
    if given:
        return given
    try:
        tree = ast.parse(textwrap.dedent(source or ""))
        func = next(n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
        doc = ast.get_docstring(func) or ""
    except (SyntaxError, StopIteration, ValueError):
        return None
    return doc.splitlines()[0] if doc else None
