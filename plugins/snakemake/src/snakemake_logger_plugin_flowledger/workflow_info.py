"""Intake: lookups in Snakemake's live objects, for what the events leave out.

Events carry no named params, no conda environment or container, no rule source and no exit code.
The running `Workflow` (`sys.modules["snakemake.workflow"].workflow`) and the emitting thread's stack
have them. All of this is private Snakemake API (checked on 8.30 and 9.27, by tests/snakemake/
test_canary.py): every function here returns None or an empty value instead of raising, and the
tracker falls back to event data. What is read comes back as small dataclasses (`WorkflowFacts`,
`RuleSource`, `JobDetails`) that `mapping` turns into ledger records.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import platform
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from subprocess import CalledProcessError
from types import FrameType
from typing import Any

from .events import WorkflowStarted, jsonable

_SNAKEMAKE_DIR = os.sep + "snakemake" + os.sep  # Snakemake's own modules, not this plugin's


@dataclass(frozen=True)
class WorkflowFacts:
    """The workflow as its run records it: from workflow_started (9) or the live Workflow (8), and the disk."""

    snakefile: str | None  # absolute
    source: str | None  # the Snakefile's text
    basedir: str  # absolute
    workdir: str
    files: tuple[str, ...]  # Snakefiles and the scripts/notebooks of its rules, absolute
    files_sha256: str  # see files_digest
    git: dict[str, Any] | None  # see git_state
    cmd: str
    configfiles: list[str]
    config_md5: str | None  # Snakemake 9's; None: compute it from `config`
    config: Any
    snakemake_version: str | None
    host: str
    platform: str
    python_version: str
    cores: int | None
    declared_version: str | None  # a `__version__ = ...` in the Snakefile
    user: str | None


@dataclass(frozen=True)
class RuleSource:
    """What a rule runs. kind: shell, script, notebook, wrapper, run, rule (none of those), None (unknown)."""

    kind: str | None = None
    source: str | None = None
    reference: str | None = None  # where it is: Snakefile:line, the script's path, the wrapper's id


@dataclass(frozen=True)
class JobDetails:
    """What a live Job knows beyond its job_info (None: not known)."""

    params: dict[str, Any] | None = None  # named params
    params_positional: list[Any] = field(default_factory=list)
    conda_env: dict[str, str] | None = None  # see conda_env_of
    container: str | None = None
    flags: dict[str, list[str]] | None = None  # {path as the job has it: [flags]}, files with flags only
    group: dict[str, Any] | None = None  # {"name": the rule's group, "jobid": the group job's id}


def live_workflow() -> Any | None:
    module = sys.modules.get("snakemake.workflow")
    return getattr(module, "workflow", None)


# ---- the emitting thread's stack (called synchronously, so keep them cheap) ---------------------
def job_from_stack(max_depth: int = 16) -> Any | None:
    """The `Job` whose `log_info()` is emitting the current job_info message, if any."""
    try:
        frame: FrameType | None = sys._getframe(1)
        for _ in range(max_depth):
            if frame is None:
                return None
            if frame.f_code.co_name == "log_info":
                job = frame.f_locals.get("self")
                if job is not None and hasattr(job, "rule") and hasattr(job, "dag"):
                    return job
            frame = frame.f_back
    except Exception:
        pass
    return None


def exception_from_stack(max_depth: int = 24) -> BaseException | None:
    """The exception being handled by the caller that logs a job error (`LocalExecutor._callback`)."""
    try:
        frame: FrameType | None = sys._getframe(1)
        for _ in range(max_depth):
            if frame is None:
                break
            if _SNAKEMAKE_DIR in frame.f_code.co_filename:
                for name in ("ex", "e", "exc", "error"):
                    value = frame.f_locals.get(name)
                    if isinstance(value, BaseException):
                        return value
            frame = frame.f_back
        current = sys.exc_info()[1]
        return current
    except Exception:
        return None


def exit_code_of(error: BaseException | None) -> int | None:
    """The return code of the first `CalledProcessError` in an exception's chain."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        ex = todo.pop(0)
        if ex is None or id(ex) in seen:
            continue
        seen.add(id(ex))
        if isinstance(ex, CalledProcessError):
            return ex.returncode
        todo.extend([ex.__cause__, ex.__context__, *(getattr(ex, "_include", None) or ())])
    return None


def describe_exception(error: BaseException | None) -> str | None:
    if error is None:
        return None
    if type(error).__name__ == "SpawnedJobError":
        inner = error.__context__ or error.__cause__
        code = exit_code_of(error)
        return (
            "the job's child process (a `run:` block runs in `python -m snakemake`) failed"
            + (f" with exit status {code}" if code is not None else "")
            + "; its traceback is in Snakemake's console output"
            + (f" ({type(inner).__name__})" if inner is not None else "")
        )
    return f"{type(error).__name__}: {error}"


# ---- jobs ----------------------------------------------------------------------------------------
def job_details(job: Any) -> JobDetails:
    """Named params, conda environment and container image of a live Job."""
    params: dict[str, Any] | None = None
    unnamed: list[Any] = []
    conda: dict[str, str] | None = None
    container: str | None = None
    try:
        values = job.params
        params = {str(k): jsonable(v) for k, v in values.items()}
        covered = _named_indices(values)
        unnamed = [jsonable(v) for i, v in enumerate(values) if i not in covered]
    except Exception:
        pass
    try:
        conda = conda_env_of(job.conda_env_spec)
    except Exception:
        pass
    try:
        container = job.container_img_url
    except Exception:
        pass
    return JobDetails(
        params=params,
        params_positional=unnamed,
        conda_env=conda,
        container=container,
        flags=io_flags(job),
        group=job_group(job),
    )


FILE_FLAGS = frozenset(
    {"temp", "pipe", "service", "update", "before_update", "protected", "directory", "touch", "ancient", "nodelocal"}
)


def io_flags(job: Any) -> dict[str, list[str]] | None:
    """{path: sorted flags} of a live Job's input, output and log files that carry one of FILE_FLAGS."""
    found: dict[str, set[str]] = {}
    try:
        for files in (job.input, job.output, job.log):
            for f in files:
                flags = set(getattr(f, "flags", None) or ()) & FILE_FLAGS
                if flags:
                    found.setdefault(str(f), set()).update(flags)
    except Exception:
        pass
    return {path: sorted(flags) for path, flags in found.items()} or None


def job_group(job: Any) -> dict[str, Any] | None:
    """The group a live Job runs in: {"name": group, "jobid": the group job's id when known}."""
    try:
        name = getattr(job, "group", None)
    except Exception:
        return None
    if not name:
        return None
    group: dict[str, Any] = {"name": str(name)}
    try:
        group_job = job.dag.get_job_group(job) if hasattr(job.dag, "get_job_group") else None
        if group_job is not None and getattr(group_job, "jobid", None) is not None:
            group["jobid"] = str(group_job.jobid)
    except Exception:
        pass
    return group


def is_finished(workflow: Any, job: Any) -> bool:
    """Whether Snakemake's DAG counts a live Job as finished (its outputs checked, its metadata written)."""
    try:
        return bool(workflow.dag.finished(job))
    except Exception:
        return False


def _named_indices(params: Any) -> set[int]:
    """Indices that a name covers (a Namedlist maps name -> (start, end or None))."""
    covered: set[int] = set()
    for start, end in getattr(params, "_names", {}).values():
        covered.update(range(start, start + 1 if end is None else end))
    return covered


def conda_env_of(spec: Any) -> dict[str, str] | None:
    """{"file": path} for an environment file, {"name": ...} or {"dir": ...} otherwise."""
    if spec is None:
        return None
    source = getattr(spec, "file", None)
    if source is not None:
        path = source_path(source)
        return {"file": os.path.abspath(path) if "://" not in str(path) else str(path)}
    if getattr(spec, "name", None):
        return {"name": str(spec.name)}
    if getattr(spec, "path", None):
        return {"dir": os.path.abspath(str(spec.path))}
    return {"spec": str(spec)}


def job_for_id(workflow: Any, jobid: int) -> Any | None:
    """Fallback when the stack probe missed: invert `dag._jobid` ({Job: jobid})."""
    try:
        for job, known in list(workflow.dag._jobid.items()):
            if known == jobid:
                return job
    except Exception:
        pass
    return None


# ---- rules ---------------------------------------------------------------------------------------
def rule_source(workflow: Any, rule_name: str) -> RuleSource:
    """What a rule runs, and where it is: its Transform's source code (what its version hashes).

    shell: the command template; script/notebook: the file's content; wrapper: its identifier;
    run: the `run:` block's text from the Snakefile; a rule without any of them: its whole definition.
    """
    try:
        rule = workflow.get_rule(rule_name)
    except Exception:
        rule = None
    if rule is None:
        return RuleSource()
    try:
        if getattr(rule, "shellcmd", None):
            return RuleSource("shell", str(rule.shellcmd), _rule_location(workflow, rule))
        for kind in ("script", "notebook"):
            path = getattr(rule, kind, None)
            if path:
                resolved = _resolve_rule_file(rule, str(path))
                return RuleSource(kind, _read(resolved), resolved or str(path))
        if getattr(rule, "wrapper", None):
            return RuleSource("wrapper", str(rule.wrapper), str(rule.wrapper))
        block = rule_text(workflow, rule)
        if getattr(rule, "is_run", False):
            return RuleSource("run", run_block(block) if block else None, _rule_location(workflow, rule))
        return RuleSource("rule", block, _rule_location(workflow, rule))
    except Exception:
        return RuleSource()


def _rule_location(workflow: Any, rule: Any) -> str | None:
    line = _snakefile_line(workflow, rule)
    return f"{rule.snakefile}:{line}" if line else str(getattr(rule, "snakefile", "") or "") or None


def _snakefile_line(workflow: Any, rule: Any) -> int | None:
    try:
        return workflow.linemaps[rule.snakefile][rule.lineno]
    except Exception:
        return None


def rule_text(workflow: Any, rule: Any) -> str | None:
    """The rule's definition in its Snakefile: from `rule NAME:` to the next unindented line."""
    line = _snakefile_line(workflow, rule)
    text = _read(str(rule.snakefile))
    if not line or text is None:
        return None
    lines = text.splitlines()
    start = line - 1
    if not (0 <= start < len(lines)):
        return None
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][:1] in (" ", "\t")):
        end += 1
    return "\n".join(lines[start:end]).rstrip() + "\n"


def run_block(rule_block: str) -> str:
    """The `run:` section of a rule definition (the lines indented deeper than `run:`)."""
    lines = rule_block.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped == "run:" or stripped.startswith("run:"):
            indent = len(line) - len(line.lstrip())
            body = [line]
            for more in lines[i + 1 :]:
                if more.strip() and len(more) - len(more.lstrip()) <= indent:
                    break
                body.append(more)
            return textwrap.dedent("\n".join(body)).rstrip() + "\n"
    return rule_block


def _resolve_rule_file(rule: Any, path: str) -> str | None:
    if "://" in path:
        return None
    if os.path.isabs(path):
        return path
    base = getattr(rule, "basedir", None)
    try:
        base = source_path(base) if base is not None else None
    except Exception:
        base = None
    base = base or os.path.dirname(str(getattr(rule, "snakefile", "") or ""))
    return os.path.abspath(os.path.join(str(base), path))


def source_path(source: Any) -> str:
    """The path of a Snakemake SourceFile (9.x wants `secret_free`, 8.x takes no argument) or a str."""
    method = getattr(source, "get_path_or_uri", None)
    if method is None:
        return str(source)
    try:
        return str(method(secret_free=True))
    except TypeError:
        return str(method())


def _read(path: str | None) -> str | None:
    if not path:
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


# ---- the workflow --------------------------------------------------------------------------------
def read_workflow(workflow: Any, started: WorkflowStarted | None, cores: int | None = None) -> WorkflowFacts:
    """What the workflow run records about the workflow. Snakemake 9 tells most of it in workflow_started;
    for 8 (and whatever 9 leaves out) the live Workflow, the process and the disk (git, file hashes)."""
    told = started or WorkflowStarted()
    snakefile = told.snakefile_main or _attr(workflow, "main_snakefile")
    snakefile = os.path.abspath(str(snakefile)) if snakefile else None
    basedir = told.basedir or _attr(workflow, "basedir") or (os.path.dirname(snakefile) if snakefile else os.getcwd())
    basedir = os.path.abspath(str(basedir))
    files = workflow_files(workflow) if workflow is not None else ([snakefile] if snakefile else [])
    declared = _attr(workflow, "globals", {}) or {}
    version = declared.get("__version__") if isinstance(declared, dict) else None
    return WorkflowFacts(
        snakefile=snakefile,
        source=_read(snakefile),
        basedir=basedir,
        workdir=told.cwd or os.getcwd(),
        files=tuple(files),
        files_sha256=files_digest(files, basedir),
        git=git_state(basedir),
        cmd=told.cmd or " ".join(sys.argv),
        configfiles=list(told.configfiles) if told.configfiles is not None else configfiles(workflow),
        config_md5=told.config_md5,
        config=_attr(workflow, "config"),
        snakemake_version=told.snakemake_version or getattr(sys.modules.get("snakemake"), "__version__", None),
        host=told.host or platform.node(),
        platform=told.platform or platform.platform(),
        python_version=told.python_version or sys.version,
        cores=cores if cores is not None else workflow_cores(workflow),
        declared_version=None if version is None else str(version),
        user=told.user or _user(),
    )


def workflow_cores(workflow: Any) -> int | None:
    try:
        return workflow.resource_settings.cores
    except Exception:
        return None


def is_touch_run(workflow: Any) -> bool:
    """`snakemake --touch`: jobs are reported, but only their outputs' times change."""
    return bool(_attr(workflow, "touch", False))


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:
        return None


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    try:
        return getattr(obj, name, default)
    except Exception:
        return default


def workflow_files(workflow: Any) -> list[str]:
    """Snakefiles (main and included) and the scripts/notebooks its rules run, absolute, sorted."""
    files: set[str] = set()
    try:
        files.add(os.path.abspath(str(workflow.main_snakefile)))
    except Exception:
        pass
    try:
        for source in workflow.included:
            path = source_path(source)
            if "://" not in str(path):
                files.add(os.path.abspath(str(path)))
    except Exception:
        pass
    try:
        for rule in workflow.rules:
            for kind in ("script", "notebook"):
                declared = getattr(rule, kind, None)
                if declared:
                    resolved = _resolve_rule_file(rule, str(declared))
                    if resolved and os.path.isfile(resolved):
                        files.add(resolved)
    except Exception:
        pass
    return sorted(files)


def files_digest(paths: list[str], root: str | None = None) -> str:
    """sha256 over (relative path, content sha256) of each file: a version when there is no git."""
    outer = hashlib.sha256()
    for path in sorted(paths):
        try:
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
        except OSError:
            continue
        name = os.path.relpath(path, root) if root else path
        outer.update(f"{name}\0{digest}\n".encode())
    return outer.hexdigest()


def git_state(directory: str) -> dict[str, Any] | None:
    """{"commit", "dirty", "remote"} when `directory` is inside a git work tree, else None."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", directory, *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status), "remote": git("config", "--get", "remote.origin.url")}


def configfiles(workflow: Any) -> list[str]:
    for attr in ("configfiles", "overwrite_configfiles"):
        try:
            found = getattr(workflow, attr, None)
            if found:
                return [os.path.abspath(str(f)) for f in found]
        except Exception:
            pass
    try:
        return [os.path.abspath(str(f)) for f in workflow.config_settings.configfiles]
    except Exception:
        return []
