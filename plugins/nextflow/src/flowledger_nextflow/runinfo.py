"""What is known about one Nextflow run, from whichever source had it: weblog metadata, the onComplete
hook, `.nextflow/history`, `.nextflow.log`, the `manifest` of `nextflow.config`.

Sources are merged with `RunInfo.merge`, so the importer and the live receiver describe a run alike.
"""

import re
import shlex
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path

from . import values
from .events import Workflow


@dataclass
class RunInfo:
    run_name: str
    session_id: str | None = None
    pipeline_name: str | None = None
    pipeline_version: str | None = None
    command_line: str | None = None
    params: dict = field(default_factory=dict)
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

    def merge(self, other: "RunInfo") -> "RunInfo":
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


def project_name(info: RunInfo) -> str | None:
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


def params_from_command(command: str | None) -> dict:
    """`--name value` pairs of a `nextflow run` command line (pipeline params use two dashes)."""
    words, params, i = _command_words(command), {}, 0
    while i < len(words):
        word = words[i]
        if word.startswith("--") and len(word) > 2:
            key = word[2:]
            if "=" in key:
                key, value = key.split("=", 1)
            elif i + 1 < len(words) and not words[i + 1].startswith("-"):
                value, i = words[i + 1], i + 1
            else:
                value = True
            params[key] = value
        i += 1
    return params


def command_option(command: str | None, *names: str) -> str | None:
    """The value of one of Nextflow's own options (`-profile docker`, `-r 3.14`) in a command line."""
    words = _command_words(command)
    for word, value in zip(words, words[1:]):
        if word in names:
            return value
    return None


def from_workflow(wf: Workflow) -> RunInfo:
    """From the `started`/`completed` weblog metadata."""
    manifest = wf.get("manifest", {}) or {}
    nextflow = wf.get("nextflow", {}) or {}
    return RunInfo(
        run_name=wf.run_name,
        session_id=wf.session_id,
        pipeline_name=values.text(manifest.get("name")),
        pipeline_version=values.text(manifest.get("version")),
        command_line=values.text(wf.get("commandLine")),
        params=dict(wf.params),
        profile=values.text(wf.get("profile")),
        revision=values.text(wf.get("revision")),
        commit_id=values.text(wf.get("commitId")),
        repository=values.text(wf.get("repository")),
        script_id=values.text(wf.get("scriptId")),
        script_name=values.text(wf.get("scriptName")),
        nextflow_version=values.text(nextflow.get("version")) if isinstance(nextflow, dict) else None,
        launch_dir=values.text(wf.get("launchDir")),
        project_dir=values.text(wf.get("projectDir")),
        work_dir=values.text(wf.get("workDir")),
        output_dir=values.text(wf.get("outputDir")),
        start=wf.start,
        complete=wf.complete,
        success=wf.get("success") if wf.complete is not None else None,
        exit_status=values.integer(wf.get("exitStatus")),
        error_message=values.text(wf.get("errorMessage")),
        error_report=values.text(wf.get("errorReport")),
        resume=wf.get("resume"),
        duration_ms=values.integer(wf.get("duration")),
    )


_MANIFEST = re.compile(r"^\s*manifest\s*\{(.*?)^\s*\}", re.S | re.M)
_SETTING = re.compile(r"^\s*(name|version)\s*=\s*(['\"])(.*?)\2", re.M)
_DOTTED = re.compile(r"^\s*manifest\.(name|version)\s*=\s*(['\"])(.*?)\2", re.M)


def read_manifest(*folders) -> tuple[str | None, str | None]:
    """(name, version) from the `manifest` scope of the first readable `nextflow.config`."""
    for folder in folders:
        if not folder:
            continue
        try:
            text = (Path(folder) / "nextflow.config").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found = {}
        for block in _MANIFEST.findall(text):
            for key, _, value in _SETTING.findall(block):
                found.setdefault(key, value)
        for key, _, value in _DOTTED.findall(text):
            found.setdefault(key, value)
        if found:
            return found.get("name"), found.get("version")
    return None, None
