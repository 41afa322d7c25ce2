"""Mapping: what Snakemake told -> what the ledger records. Pure functions, no I/O.

The intake parses Snakemake's events (`events`) and reads its live objects (`workflow_info`); the
tracker keeps them until a run starts or a job ends, then asks this module for the `TransformSpec`, the
run's fields (reference, reference_type, json, status, exit code, error) and its paths, and hands them
to the recorder. Nothing here reads a file, the clock, the working directory or Snakemake itself, so
every rule of the mapping is unit-tested without running Snakemake (tests/snakemake/test_mapping.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowledger.plugin_api import FINAL_STATUSES, RunStatus, TransformSpec

from .events import Error, JobError, JobInfo
from .workflow_info import JobDetails, RuleSource, WorkflowFacts

REFERENCE_TYPE = "snakemake_id"  # a workflow run's reference: Snakemake 9's workflow_id (8: a uuid4 made here)
JOB_REFERENCE_TYPE = "snakemake_job"  # a job run's reference: "<workflow reference>/<jobid>"
RULE_REFERENCE_TYPES = {"script": "script", "notebook": "notebook", "wrapper": "snakemake_wrapper"}
DEFAULT_RULE_REFERENCE_TYPE = "snakemake_rule"  # shell, run and plain rules: "Snakefile:line"

# How a Snakemake job can end: Snakemake skips up-to-date jobs rather than reporting cache hits.
JOB_OUTCOMES: tuple[RunStatus, ...] = tuple(s for s in RunStatus if s in FINAL_STATUSES and s is not RunStatus.CACHED)


# ---- the workflow ------------------------------------------------------------------------------
def workflow_name(basedir: str) -> str:
    """The workflow directory's name; for the standard layout (`<repo>/workflow/Snakefile`) the repo's."""
    base = os.path.normpath(basedir)
    name = os.path.basename(base)
    if name == "workflow" and os.path.dirname(base) != base:
        name = os.path.basename(os.path.dirname(base))
    return name or "snakemake-workflow"


def workflow_version(files_sha256: str, git: Mapping[str, Any] | None) -> str:
    """Git HEAD (with `-dirty-<hash>` for local edits), else `sha256:<12 hex>` of the workflow's files."""
    if git:
        version = str(git["commit"])[:12]
        if git.get("dirty"):
            version += f"-dirty-{files_sha256[:8]}"
        return version
    return f"sha256:{files_sha256[:12]}"


def config_md5(config: Any) -> str | None:
    """Snakemake 9's `config_md5`: md5 of the config as sorted JSON (computed the same way for 8)."""
    try:
        return hashlib.md5(json.dumps(config, sort_keys=True).encode()).hexdigest()
    except Exception:
        return None


def config_name(config: Any) -> str | None:
    """`config["name"]`, when the workflow's config sets it to a non-empty text."""
    value = config.get("name") if isinstance(config, Mapping) else None
    return str(value).strip() or None if isinstance(value, (str, int, float)) else None


def workflow_transform(facts: WorkflowFacts, name: str | None = None) -> TransformSpec:
    """The workflow's Transform, named by the config's `name`, else `name` (the plugin setting), else the
    workflow's directory; versioned by git or its files."""
    name = config_name(facts.config) or name or workflow_name(facts.basedir)
    return TransformSpec(
        name=name,
        type="pipeline",
        version=workflow_version(facts.files_sha256, facts.git),
        source_code=facts.source,
        reference=facts.snakefile,
        reference_type="snakefile",
        description=f"Snakemake workflow {name}",
    )


def workflow_json(facts: WorkflowFacts, job_stats: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The workflow run's json when it starts."""
    data: dict[str, Any] = {
        "cmd": facts.cmd,
        "snakefile": facts.snakefile,
        "basedir": facts.basedir,
        "workdir": facts.workdir,
        "configfiles": list(facts.configfiles),
        "config_md5": facts.config_md5 or config_md5(facts.config if facts.config is not None else {}),
        "snakemake_version": facts.snakemake_version,
        "host": facts.host,
        "platform": facts.platform,
        "python_version": facts.python_version,
        "cores": facts.cores,
        "workflow_files": [os.path.relpath(f, facts.basedir) for f in facts.files],
        "files_sha256": facts.files_sha256,
    }
    if facts.git:
        data["git"] = dict(facts.git)
    if facts.declared_version is not None:
        data["declared_version"] = facts.declared_version
    if job_stats:
        data["job_stats"] = dict(job_stats)
    return data


@dataclass(frozen=True)
class WorkflowOutcome:
    status: RunStatus
    error: str | None
    json: dict[str, Any]


def workflow_outcome(
    *, interrupted: bool, errors: Sequence[Error], counts: Mapping[RunStatus, int], incomplete: bool = False
) -> WorkflowOutcome:
    """How the workflow run ended. `errors`: the error messages that were not a job's; `counts`: jobs per
    final status; `incomplete`: an internal error stopped recording part-way."""
    if interrupted or any(error.is_interrupt for error in errors):
        status = RunStatus.ABORTED
    elif errors or counts.get(RunStatus.ERRORED):
        status = RunStatus.ERRORED
    else:
        status = RunStatus.COMPLETED
    text = "\n\n".join(error.msg for error in errors).strip() or None
    if text is None and status is RunStatus.ERRORED:
        text = f"{counts.get(RunStatus.ERRORED, 0)} job(s) failed"
    data: dict[str, Any] = {"job_counts": {s.value: counts.get(s, 0) for s in JOB_OUTCOMES}}
    if incomplete:
        data["recording_incomplete"] = True
    return WorkflowOutcome(status, text, data)


# ---- rules and jobs ----------------------------------------------------------------------------
def rule_transform(rule: str, source: RuleSource) -> TransformSpec:
    """A rule's Transform: its source is what it runs (shell template, script, run: block, wrapper id)."""
    return TransformSpec(
        name=rule,
        type="rule",
        source_code=source.source,
        reference=source.reference,
        reference_type=RULE_REFERENCE_TYPES.get(source.kind or "", DEFAULT_RULE_REFERENCE_TYPE),
        description=f"Snakemake rule {rule}" + (f" ({source.kind})" if source.kind else ""),
    )


def job_reference(workflow_id: str | None, jobid: int) -> str:
    """Snakemake's jobids are unique within one invocation only: prefix the workflow's id."""
    return f"{workflow_id}/{jobid}"


# Snakemake's `fmt_iofile` appends " (<label>)" to the paths it logs: pipe, service, nodelocal, update,
# "before update", "access: <pattern>", cached, and storage phrases ("send to storage", ...).
_ANNOTATION = re.compile(
    r"^(?P<path>.+?) \((?P<label>pipe|service|nodelocal|update|before update|access: [^()]*|cached"
    r"|(?:[^()]*, )?(?:retrieve from storage|only provide storage uri|send to storage|in storage))\)$"
)
ANNOTATION_FLAGS = {"before update": "before_update"}  # a label -> the flag Snakemake calls it


def strip_annotation(path: str) -> tuple[str, str | None]:
    """(the real path, the flag its annotation names, if any) of a path as Snakemake logs it."""
    found = _ANNOTATION.match(path)
    if found is None:
        return path, None
    label = found.group("label").split(", ")[0]
    flag = ANNOTATION_FLAGS.get(label, label)
    return found.group("path"), None if "storage" in flag or flag.startswith("access:") else flag


def absolute(paths: Iterable[str], workdir: str) -> list[str]:
    """Event paths (annotations stripped) are relative to Snakemake's working directory; URLs and absolute
    paths stay as they are."""
    return [_absolute(strip_annotation(p)[0], workdir) for p in paths]


def _absolute(path: str, workdir: str) -> str:
    return path if os.path.isabs(path) or "://" in path else os.path.normpath(os.path.join(workdir, path))


def file_flags(info: JobInfo, details: JobDetails, workdir: str) -> dict[str, list[str]]:
    """{absolute path: sorted flags} of a job's files: what the live Job's IOFiles say (temp, pipe,
    protected, directory, ...) and what the logged paths' annotations say."""
    flags: dict[str, set[str]] = {}
    for path, told in (details.flags or {}).items():
        if told:
            flags.setdefault(_absolute(path, workdir), set()).update(told)
    for path in (*info.input, *info.output, *info.log, *info.benchmark):
        real, flag = strip_annotation(path)
        if flag:
            flags.setdefault(_absolute(real, workdir), set()).add(flag)
    return {path: sorted(found) for path, found in sorted(flags.items())}


def temp_outputs(info: JobInfo, details: JobDetails, workdir: str) -> list[str]:
    """The job's outputs that Snakemake deletes once their consumers are done (`temp()`), absolute."""
    outputs = set(absolute(info.output, workdir))
    return sorted(p for p, found in file_flags(info, details, workdir).items() if "temp" in found and p in outputs)


def job_environment(details: JobDetails) -> tuple[str | None, str | None]:
    """(environment file, environment reference) of a job: its conda file, else its container or conda env."""
    conda = details.conda_env
    environment = conda.get("file") if isinstance(conda, dict) else None
    reference = details.container or None
    if reference is None and isinstance(conda, dict) and not environment:
        reference = "conda:" + (conda.get("name") or conda.get("dir") or conda.get("spec") or "")
    return environment, reference


def job_failure(
    error: Error | None,
    *,
    exit_code: int | None,
    described: str | None,
    rule: str | None,
    jobid: int,
    child_report: str | None = None,
) -> tuple[str, int | None]:
    """(error text, exit code) of a failed job. `error`: the message its thread logged just before the
    job_error; `exit_code` and `described`: what the live exception told (the exit code wins over the
    text); `child_report`: what a spawned job's child printed about its failure (a `run:` block's
    traceback), which says more than anything the parent logged."""
    if exit_code is None and error is not None:
        exit_code = error.exit_code
    logged = error.msg if error is not None else None
    text = child_report or logged or described or f"Error in rule {rule}, jobid {jobid}"
    return text, exit_code


@dataclass(frozen=True)
class JobRun:
    """The fields of one job's `record_job` call (with the rule's TransformSpec, the workflow run's uid)."""

    inputs: list[str]
    outputs: list[str]  # the outputs, then the benchmark file
    logs: list[str]
    reference: str
    reference_type: str
    status: RunStatus
    started_at: float
    finished_at: float
    json: dict[str, Any]
    exit_code: int | None
    error: str | None
    environment: str | None
    environment_reference: str | None


def job_run(
    info: JobInfo,
    details: JobDetails,
    *,
    workflow_id: str | None,
    workdir: str,
    source_kind: str | None,
    status: RunStatus,
    finished_at: float,
    error: str | None = None,
    exit_code: int | None = None,
    error_event: JobError | None = None,
) -> JobRun:
    """A job as a run: what its job_info said, what its live Job knew, how it ended."""
    jobid = info.jobid if info.jobid is not None else -1
    environment, environment_reference = job_environment(details)
    data: dict[str, Any] = {
        "rule": info.rule,
        "jobid": info.jobid,
        "wildcards": info.wildcards or {},
        "params": details.params,
        "threads": info.threads,
        "resources": info.resources or {},
        "shellcmd": info.shellcmd,
        "reason": info.reason,
        "log": [strip_annotation(p)[0] for p in info.log],
        "benchmark": _one_or_list([strip_annotation(p)[0] for p in info.benchmark]),
        "message": info.rule_msg,
        "source_kind": source_kind,
        "conda_env": details.conda_env,
        "container": details.container,
        "workflow_id": workflow_id,
    }
    if details.params_positional:
        data["params_positional"] = list(details.params_positional)
    flags = file_flags(info, details, workdir)
    if flags:
        data["flags"] = flags
    if details.group is not None:
        data["group"] = dict(details.group)
    for key in ("priority", "local", "is_checkpoint"):
        value = getattr(info, key)
        if value is not None:
            data[key] = value
    if error_event is not None:
        told = {key: getattr(error_event, key) for key in ("conda_env", "container_img") if getattr(error_event, key)}
        if told:
            data["error_event"] = told
    return JobRun(
        inputs=absolute(info.input, workdir),
        outputs=absolute(info.output, workdir) + absolute(info.benchmark, workdir),
        logs=absolute(info.log, workdir),
        reference=job_reference(workflow_id, jobid),
        reference_type=JOB_REFERENCE_TYPE,
        status=status,
        started_at=info.time,
        finished_at=finished_at,
        json=data,
        exit_code=exit_code,
        error=error,
        environment=environment,
        environment_reference=environment_reference,
    )


def _one_or_list(paths: Sequence[str]) -> str | list[str] | None:
    """Snakemake rules have at most one benchmark file: store it as a string (None without one)."""
    return paths[0] if len(paths) == 1 else (list(paths) or None)
