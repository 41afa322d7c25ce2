"""flowledger plugin for Nextflow: hook config, live weblog receiver, importer of past runs, runner.

import flowledger_nextflow
info = flowledger_nextflow.run("main.nf", params={"reads": "data/*.fastq"})
print(info.status, info.reference)     # the recorded workflow run; flowledger.Run.get(info.uid) for more
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import NextflowError

if TYPE_CHECKING:
    from flowledger.plugin_api import RunInfo


def run(pipeline: str, **kwargs: Any) -> RunInfo:
    """Run `nextflow run` as a subprocess, record it, and return the recorded workflow run (see `runner.run`)."""
    from .runner import run as _run

    return _run(pipeline, **kwargs)


__all__ = ["NextflowError", "run"]
