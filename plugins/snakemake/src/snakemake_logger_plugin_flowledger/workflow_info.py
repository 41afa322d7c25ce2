"""Lookups in Snakemake's live objects: what the events leave out.

Events carry no named params, no conda environment or container, no rule source and no exit code.
The running `Workflow` (`sys.modules["snakemake.workflow"].workflow`) and the emitting thread's stack
have them. All of this is private Snakemake API (checked on 8.30 and 9.27): every function here
returns None or an empty value instead of raising, and the tracker falls back to event data.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from subprocess import CalledProcessError
from typing import Any

from .events import jsonable

_SNAKEMAKE_DIR = os.sep + "snakemake" + os.sep  # Snakemake's own modules, not this plugin's


def live_workflow() -> Any | None:
    module = sys.modules.get("snakemake.workflow")
    return getattr(module, "workflow", None)


# ---- the emitting thread's stack (called synchronously, so keep them cheap) ---------------------
def job_from_stack(max_depth: int = 16) -> Any | None:
    """The `Job` whose `log_info()` is emitting the current job_info message, if any."""
    try:
        frame = sys._getframe(1)
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
        frame = sys._getframe(1)
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
        return ("the job's child process (a `run:` block runs in `python -m snakemake`) failed"
                + (f" with exit status {code}" if code is not None else "")
                + "; its traceback is in Snakemake's console output"
                + (f" ({type(inner).__name__})" if inner is not None else ""))
    return f"{type(error).__name__}: {error}"


# ---- jobs ----------------------------------------------------------------------------------------
def job_details(job: Any) -> dict[str, Any]:
    """Named params, conda environment and container image of a live Job."""
    details: dict[str, Any] = {}
    try:
        params = job.params
        details["params"] = {str(k): jsonable(v) for k, v in params.items()}
        covered = _named_indices(params)
        unnamed = [jsonable(v) for i, v in enumerate(params) if i not in covered]
        if unnamed:
            details["params_positional"] = unnamed
    except Exception:
        pass
    try:
        details["conda_env"] = conda_env_of(job.conda_env_spec)
    except Exception:
        pass
    try:
        details["container"] = job.container_img_url
    except Exception:
        pass
    return details


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
def rule_source(workflow: Any, rule_name: str) -> dict[str, Any]:
    """{"kind", "source", "reference"} of a rule: what its Transform version hashes.

    shell: the command template; script/notebook: the file's content; wrapper: its identifier;
    run: the `run:` block's text from the Snakefile; a rule without any of them: its whole definition.
    """
    try:
        rule = workflow.get_rule(rule_name)
    except Exception:
        rule = None
    if rule is None:
        return {"kind": None, "source": None, "reference": None}
    try:
        if getattr(rule, "shellcmd", None):
            return {"kind": "shell", "source": str(rule.shellcmd), "reference": _rule_location(workflow, rule)}
        for kind in ("script", "notebook"):
            path = getattr(rule, kind, None)
            if path:
                resolved = _resolve_rule_file(rule, str(path))
                return {"kind": kind, "source": _read(resolved), "reference": resolved or str(path)}
        if getattr(rule, "wrapper", None):
            return {"kind": "wrapper", "source": str(rule.wrapper), "reference": str(rule.wrapper)}
        block = rule_text(workflow, rule)
        if getattr(rule, "is_run", False):
            return {"kind": "run", "source": run_block(block) if block else None,
                    "reference": _rule_location(workflow, rule)}
        return {"kind": "rule", "source": block, "reference": _rule_location(workflow, rule)}
    except Exception:
        return {"kind": None, "source": None, "reference": None}


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
            for more in lines[i + 1:]:
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
                path = getattr(rule, kind, None)
                if path:
                    resolved = _resolve_rule_file(rule, str(path))
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


def workflow_version(basedir: str, files: list[str]) -> tuple[str, dict[str, Any]]:
    """(version, facts): git HEAD (with `-dirty-<hash>` for local edits), else `sha256:<12 hex>` of the files."""
    digest = files_digest(files, basedir)
    facts: dict[str, Any] = {"files_sha256": digest}
    git = git_state(basedir)
    if git:
        facts["git"] = git
        version = git["commit"][:12]
        if git["dirty"]:
            version += f"-dirty-{digest[:8]}"
        return version, facts
    return f"sha256:{digest[:12]}", facts


def workflow_name(basedir: str) -> str:
    """The workflow directory's name; for the standard layout (`<repo>/workflow/Snakefile`) the repo's."""
    base = os.path.abspath(basedir)
    name = os.path.basename(base)
    if name == "workflow" and os.path.dirname(base) != base:
        name = os.path.basename(os.path.dirname(base))
    return name or "snakemake-workflow"


def config_md5(config: Any) -> str | None:
    """Snakemake 9's `config_md5`: md5 of the config as sorted JSON (computed the same way for 8)."""
    try:
        return hashlib.md5(json.dumps(config, sort_keys=True).encode()).hexdigest()
    except Exception:
        return None


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
