"""What is known about one Nextflow run, from whichever source had it: weblog metadata, the onComplete
hook, `.nextflow/history`, `.nextflow.log`, the `manifest` of `nextflow.config`.

Sources are merged with `RunFacts.merge`, so the importer and the live receiver describe a run alike.
(Not the core's `RunInfo`, which is a run read back from the ledger.) Everything here is pure.
"""

from __future__ import annotations

import itertools
import re
import shlex
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from . import formats
from .events import Workflow


@dataclass
class RunFacts:
    run_name: str
    session_id: str | None = None
    pipeline_name: str | None = None
    pipeline_version: str | None = None
    command_line: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    profile: str | None = None
    revision: str | None = None
    commit_id: str | None = None
    repository: str | None = None
    script_id: str | None = None
    script_name: str | None = None
    nextflow_version: str | None = None
    launch_dir: str | None = None
    project_dir: str | None = None
    work_dir: str | None = None
    output_dir: str | None = None
    start: datetime | None = None
    complete: datetime | None = None
    success: bool | None = None
    exit_status: int | None = None
    error_message: str | None = None
    error_report: str | None = None
    resume: bool | None = None
    duration_ms: int | None = None

    def merge(self, other: RunFacts) -> RunFacts:
        """Fill the fields this one lacks from `other`."""
        for f in fields(self):
            mine = getattr(self, f.name)
            if mine in (None, {}, "") and getattr(other, f.name) not in (None, {}, ""):
                setattr(self, f.name, getattr(other, f.name))
        return self

    @property
    def transform_name(self) -> str:
        return self.pipeline_name or project_name(self) or "nextflow-pipeline"

    @property
    def transform_version(self) -> str | None:
        return self.pipeline_version or self.commit_id or self.script_id or self.revision


def project_name(info: RunFacts) -> str | None:
    """The project as `nextflow run` was given it: a repository, else the main script's name."""
    if info.repository:
        return re.sub(r"\.git$", "", info.repository.rstrip("/")).split("://")[-1].split("/", 1)[-1]
    if info.script_name:
        return info.script_name
    words = _command_words(info.command_line)
    if "run" in words and words.index("run") + 1 < len(words):
        return words[words.index("run") + 1]
    return None


def _command_words(command: str | None) -> list[str]:
    if not command:
        return []
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def params_from_command(command: str | None) -> dict[str, Any]:
    """`--name value` pairs of a `nextflow run` command line (pipeline params use two dashes)."""
    words, params, i = _command_words(command), {}, 0
    while i < len(words):
        word = words[i]
        if word.startswith("--") and len(word) > 2:
            key = word[2:]
            value: str | bool = True  # a flag
            if "=" in key:
                key, value = key.split("=", 1)
            elif i + 1 < len(words) and not words[i + 1].startswith("-"):
                value, i = words[i + 1], i + 1
            params[key] = value
        i += 1
    return params


def command_option(command: str | None, *names: str) -> str | None:
    """The value of one of Nextflow's own options (`-profile docker`, `-r 3.14`) in a command line."""
    words = _command_words(command)
    for word, value in itertools.pairwise(words):
        if word in names:
            return value
    return None


def from_workflow(wf: Workflow) -> RunFacts:
    """From the `started`/`completed` weblog metadata."""
    manifest = wf.get("manifest", {}) or {}
    nextflow = wf.get("nextflow", {}) or {}
    return RunFacts(
        run_name=wf.run_name,
        session_id=wf.session_id,
        pipeline_name=formats.text(manifest.get("name")),
        pipeline_version=formats.text(manifest.get("version")),
        command_line=formats.text(wf.get("commandLine")),
        params=dict(wf.params),
        profile=formats.text(wf.get("profile")),
        revision=formats.text(wf.get("revision")),
        commit_id=formats.text(wf.get("commitId")),
        repository=formats.text(wf.get("repository")),
        script_id=formats.text(wf.get("scriptId")),
        script_name=formats.text(wf.get("scriptName")),
        nextflow_version=formats.text(nextflow.get("version")) if isinstance(nextflow, dict) else None,
        launch_dir=formats.text(wf.get("launchDir")),
        project_dir=formats.text(wf.get("projectDir")),
        work_dir=formats.text(wf.get("workDir")),
        output_dir=formats.text(wf.get("outputDir")),
        start=wf.start,
        complete=wf.complete,
        success=wf.get("success") if wf.complete is not None else None,
        exit_status=formats.integer(wf.get("exitStatus")),
        error_message=formats.text(wf.get("errorMessage")),
        error_report=formats.text(wf.get("errorReport")),
        resume=wf.get("resume"),
        duration_ms=formats.integer(wf.get("duration")),
    )
