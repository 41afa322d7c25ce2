"""Hooks fire from here, and only here: after a commit, tell plugins what was written.

Plugins receive model records (`Run`, `Artifact`). They are looked up through the registry by name, so
this module, and the recorder below it, never import the models that sit above them.
"""

from typing import Any

from .registry import MODELS
from .writer import Written

_listening: tuple[int, bool] = (-1, False)  # (the plugin manager's generation, the answer then)
_pm: Any = None  # the plugin manager, once something is recorded (pluggy is not imported by `import flowledger`)


def listeners() -> bool:
    """Does any plugin listen? When none does, recording skips building records on its hot path."""
    global _listening, _pm
    if _pm is None:
        from .plugins import pm as _pm
    pm = _pm
    if _listening[0] != pm.generation:
        hooks = pm.hook
        found = hooks.run_started.get_hookimpls() or hooks.run_finished.get_hookimpls()
        _listening = (pm.generation, bool(found or hooks.artifact_recorded.get_hookimpls()))
    return _listening[1]


def announce(ledger, written: list[Written]) -> None:
    """`run_started`, `artifact_recorded` and `run_finished`, in that order, for each run written."""
    if not written or not listeners():
        return
    from .plugins import pm

    runs, artifacts = MODELS["Run"].using(ledger), MODELS["Artifact"].using(ledger)
    for item in written:
        run = runs.filter(id=item.run_id).one()
        if item.started:
            pm.hook.run_started(run=run)
        for artifact_id, role in item.links:
            pm.hook.artifact_recorded(artifact=artifacts.filter(id=artifact_id).one(), run=run, role=role)
        if item.finished:
            pm.hook.run_finished(run=run)
