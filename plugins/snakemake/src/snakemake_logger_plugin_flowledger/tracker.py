"""One Snakemake invocation -> one workflow Run with one Run per executed job.

Version-agnostic: the Snakemake 9 logger plugin and the Snakemake 8 handler script feed it the same
`events.Event`s (plus what their stack probes found) and call `close()` at the end. The workflow Run is
created lazily, at the first job or error, so dry runs and up-to-date invocations ("Nothing to be done")
record nothing. Jobs are written whole when they end (one `record_job` each), through a background
recorder, so nothing here waits for hashing or the database.
"""

from __future__ import annotations

import getpass
import os
import platform
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from . import events as ev
from . import workflow_info as wi
from .recording import SafeRecorder, Warner

REFERENCE_TYPE = "snakemake_id"
JOB_REFERENCE_TYPE = "snakemake_job"


@dataclass
class TrackerSettings:
    db: str | None = None  # None: FLOWLEDGER_DB, nearest .flowledger/ledger.db, per-user default
    name: str | None = None  # the workflow Transform's name; default: the workflow directory's name
    wait: float = 300.0  # seconds to wait at the end for the ledger to be written


@dataclass
class _ErrorNote:
    event: ev.Event
    consumed: bool = False


class WorkflowTracker:
    """Keeps what Snakemake told so far and turns finished jobs into ledger records."""

    def __init__(self, settings: TrackerSettings | None = None, *, snakemake_major: int,
                 recorder: SafeRecorder | None = None, is_dryrun: Callable[[], bool] = lambda: False,
                 workflow_id: str | None = None) -> None:
        self.settings = settings or TrackerSettings()
        self.snakemake_major = snakemake_major
        self.warner = recorder.warner if recorder is not None else Warner()
        self.recorder = recorder or SafeRecorder(self.settings.db, warner=self.warner)
        self.is_dryrun = is_dryrun
        self.workflow_id = workflow_id  # Snakemake 9: from workflow_started; 8: made on first need
        self.info: dict[str, Any] = {}
        self.cores: int | None = None
        self.logfile: str | None = None
        self.interrupted = False
        self.job_stats: dict[str, Any] | None = None
        self.run_uid: str | None = None
        self.started_at: float | None = None
        self.jobs: dict[int, dict[str, Any]] = {}  # jobid -> job_info data, until the job ends
        self.live_jobs: dict[int, Any] = {}  # jobid -> snakemake Job (from the stack probe)
        self.job_failures: dict[int, BaseException | None] = {}  # jobid -> exception (stack probe)
        self.errors: list[_ErrorNote] = []
        self._error_in_thread: dict[str | None, _ErrorNote] = {}
        self.last_job_in_thread: dict[str | None, int] = {}
        self.counts = {"completed": 0, "errored": 0, "aborted": 0}
        self._rules: dict[str, tuple[Any, str | None]] = {}  # rule -> (TransformSpec, source kind)
        self.created_by: str | None = None
        self.closed = False
        self._broken = False
        self._touch: bool | None = None

    # ---- input -------------------------------------------------------------------------------
    def probe_stack(self, kind: str, jobid: Any) -> None:
        """Called synchronously in the thread that logs a message (Snakemake 9's logging filter, Snakemake
        8's handler): keeps the live Job behind a job_info, or the exception behind a job_error, which the
        messages leave out. Cheap: a short walk up the caller's stack, nothing else."""
        if jobid is None:
            return
        if kind == ev.JOB_INFO:
            job = wi.job_from_stack()
            if job is not None:
                self.live_jobs[int(jobid)] = job
        elif kind == ev.JOB_ERROR:
            self.job_failures[int(jobid)] = wi.exception_from_stack()

    def handle(self, event: ev.Event) -> None:
        """Take one event; never raises (a bug here must not reach Snakemake)."""
        if self.closed or self._broken:
            return
        try:
            if self.started_at is None:
                self.started_at = event.time or time.time()
            handler = getattr(self, "_on_" + event.kind, None)
            if handler is not None:
                handler(event)
            if event.kind != ev.ERROR:  # a job's error message is the one its thread logged just before
                self._error_in_thread.pop(event.thread, None)
        except Exception as error:
            self._broken = True
            self.warner.warn_error("flowledger stopped recording this workflow after an internal error", error)

    def _on_workflow_started(self, event: ev.Event) -> None:
        self.info = dict(event.data)
        self.workflow_id = str(event.data.get("workflow_id") or "") or self.workflow_id
        self.started_at = event.time or self.started_at

    def _on_info(self, event: ev.Event) -> None:
        """Snakemake's own log of this invocation becomes the Run's report; Ctrl-C makes it `aborted`."""
        text = str(event.data.get("msg") or "")
        if text.startswith(ev.INTERRUPT_MESSAGE):
            self.interrupted = True
        elif text.startswith(ev.LOGFILE_MESSAGE) and ":" in text:
            first = text.split(":", 1)[1].strip().split(", ")[0]
            if first:
                self.logfile = os.path.abspath(first)

    def _on_resources_info(self, event: ev.Event) -> None:
        if event.data.get("cores") is not None:
            self.cores = event.data["cores"]

    def _on_run_info(self, event: ev.Event) -> None:
        if event.data.get("stats") and self.job_stats is None:
            self.job_stats = event.data["stats"]

    def _not_executing(self) -> bool:
        """Dry runs and `--touch` report jobs that do not run: they must leave no trace in the ledger."""
        if self.is_dryrun():
            return True
        if self._touch is None:
            self._touch = bool(_attr(wi.live_workflow(), "touch", False))
        return self._touch

    def _on_job_info(self, event: ev.Event) -> None:
        if self._not_executing():
            return
        jobid = event.data.get("jobid")
        if jobid is None:
            return
        self._remember_job(event)
        self.last_job_in_thread[event.thread] = jobid
        self._ensure_workflow_run()

    def _remember_job(self, event: ev.Event) -> None:
        """What a job_info (or a job_error without one) tells about a job, until the job ends."""
        self.jobs[event.data["jobid"]] = {**event.data, "started_at": event.time, "workdir": os.getcwd()}

    def _on_shellcmd(self, event: ev.Event) -> None:
        """Snakemake 8 sends the command separately, right after its job_info, in the same thread."""
        jobid = self.last_job_in_thread.get(event.thread)
        if jobid in self.jobs and not self.jobs[jobid].get("shellcmd"):
            self.jobs[jobid]["shellcmd"] = event.data.get("shellcmd")

    def _on_job_finished(self, event: ev.Event) -> None:
        jobid = event.data.get("jobid")
        if jobid in self.jobs:
            self._record_job(jobid, "completed", event.time)

    def _on_job_error(self, event: ev.Event) -> None:
        if self._not_executing():
            return
        jobid = event.data.get("jobid")
        if jobid is None:
            return
        if jobid not in self.jobs:  # job_error without job_info (should not happen): keep what it says
            self._remember_job(event)
        self._ensure_workflow_run()
        message = self._error_for_thread(event.thread)
        failure = self.job_failures.pop(jobid, None)
        exit_code = wi.exit_code_of(failure)
        if exit_code is None:
            exit_code = ev.parse_exit_code(message)
        text = message or wi.describe_exception(failure) or f"Error in rule {event.data.get('rule')}, jobid {jobid}"
        self._record_job(jobid, "errored", event.time, error=text, exit_code=exit_code,
                         extra={"error_event": {k: event.data.get(k) for k in ("conda_env", "container_img")
                                                if event.data.get(k)}})

    def _on_error(self, event: ev.Event) -> None:
        if self.is_dryrun():
            return
        note = _ErrorNote(event)
        self.errors.append(note)
        self._error_in_thread[event.thread] = note

    def _error_for_thread(self, thread: str | None) -> str | None:
        """The error message its thread logged right before a job_error: the job's exception.

        Anything else in between (or an error from another thread) is a workflow-level error.
        """
        note = self._error_in_thread.pop(thread, None)
        if note is None:
            return None
        note.consumed = True
        return note.event.data.get("msg")

    # ---- the workflow run ----------------------------------------------------------------------
    def _ensure_workflow_run(self) -> None:
        if self.run_uid is not None or self.recorder.failed:
            return
        if not self.workflow_id:
            self.workflow_id = str(uuid.uuid4())
        workflow = wi.live_workflow()
        spec, data = self._workflow_transform(workflow)
        self.created_by = self._user()
        self.run_uid = self.recorder.start_run(
            spec, reference=self.workflow_id, reference_type=REFERENCE_TYPE,
            started_at=self.started_at or time.time(), json=data, created_by=self.created_by, status="started")

    def _workflow_transform(self, workflow: Any) -> tuple[Any, dict[str, Any]]:
        from flowledger.plugin_api import TransformSpec

        snakefile = self.info.get("snakefile_main") or _attr(workflow, "main_snakefile")
        snakefile = os.path.abspath(str(snakefile)) if snakefile else None
        basedir = self.info.get("basedir") or _attr(workflow, "basedir") or (
            os.path.dirname(snakefile) if snakefile else os.getcwd())
        basedir = str(basedir)
        files = wi.workflow_files(workflow) if workflow is not None else ([snakefile] if snakefile else [])
        version, facts = wi.workflow_version(basedir, files)
        name = self.settings.name or wi.workflow_name(basedir)
        config = _attr(workflow, "config")
        data: dict[str, Any] = {
            "cmd": self.info.get("cmd") or " ".join(sys.argv),
            "snakefile": snakefile,
            "basedir": basedir,
            "workdir": self.info.get("cwd") or os.getcwd(),
            "configfiles": self.info.get("configfiles") if "configfiles" in self.info else wi.configfiles(workflow),
            "config_md5": self.info.get("config_md5") or wi.config_md5(config if config is not None else {}),
            "snakemake_version": self.info.get("snakemake_version") or _snakemake_version(),
            "host": self.info.get("host") or platform.node(),
            "platform": self.info.get("platform") or platform.platform(),
            "python_version": self.info.get("python_version") or sys.version,
            "cores": self.cores if self.cores is not None else _cores(workflow),
            "workflow_files": [os.path.relpath(f, basedir) for f in files],
            **facts,
        }
        declared = _attr(workflow, "globals", {}) or {}
        if isinstance(declared, dict) and declared.get("__version__") is not None:
            data["declared_version"] = str(declared["__version__"])
        if self.job_stats:
            data["job_stats"] = self.job_stats
        source = None
        if snakefile:
            try:
                with open(snakefile, encoding="utf-8", errors="replace") as handle:
                    source = handle.read()
            except OSError:
                pass
        spec = TransformSpec(name=name, type="pipeline", version=version, source_code=source,
                             reference=snakefile, reference_type="snakefile",
                             description=f"Snakemake workflow {name}")
        return spec, data

    def _user(self) -> str | None:
        user = self.info.get("user")
        if user:
            return str(user)
        try:
            return getpass.getuser()
        except Exception:
            return None

    # ---- jobs ----------------------------------------------------------------------------------
    def _rule_spec(self, rule: str | None, workflow: Any) -> tuple[Any, str | None]:
        """(TransformSpec, source kind) of a rule, looked up once per invocation."""
        from flowledger.plugin_api import TransformSpec

        key = rule or "?"
        if key not in self._rules:
            found = wi.rule_source(workflow, key) if workflow is not None else {}
            kind = found.get("kind")
            spec = TransformSpec(
                name=key, type="rule", source_code=found.get("source"),
                reference=found.get("reference"),
                reference_type={"script": "script", "notebook": "notebook", "wrapper": "snakemake_wrapper"}.get(
                    kind or "", "snakemake_rule"),
                description=f"Snakemake rule {key}" + (f" ({kind})" if kind else ""))
            self._rules[key] = (spec, kind)
        return self._rules[key]

    def _record_job(self, jobid: int, status: str, finished_at: float, *, error: str | None = None,
                    exit_code: int | None = None, extra: dict[str, Any] | None = None) -> None:
        info = self.jobs.pop(jobid)
        job = self.live_jobs.pop(jobid, None)
        self._ensure_workflow_run()
        if self.run_uid is None:
            return
        workflow = wi.live_workflow()
        if job is None and workflow is not None:
            job = wi.job_for_id(workflow, jobid)
        details = wi.job_details(job) if job is not None else {}
        rule = info.get("rule")
        spec, source_kind = self._rule_spec(rule, workflow)
        workdir = info.get("workdir") or os.getcwd()

        def absolute(paths: list[str]) -> list[str]:
            return [p if os.path.isabs(p) or "://" in p else os.path.normpath(os.path.join(workdir, p))
                    for p in paths]

        conda = details.get("conda_env")
        container = details.get("container")
        environment = conda.get("file") if isinstance(conda, dict) else None
        environment_reference = container or None
        if environment_reference is None and isinstance(conda, dict) and not environment:
            environment_reference = "conda:" + (conda.get("name") or conda.get("dir") or conda.get("spec") or "")
        data: dict[str, Any] = {
            "rule": rule,
            "jobid": jobid,
            "wildcards": info.get("wildcards") or {},
            "params": details.get("params"),
            "threads": info.get("threads"),
            "resources": info.get("resources") or {},
            "shellcmd": info.get("shellcmd"),
            "reason": info.get("reason"),
            "log": info.get("log") or [],
            "benchmark": _one_or_list(info.get("benchmark") or []),
            "message": info.get("rule_msg"),
            "source_kind": source_kind,
            "conda_env": conda,
            "container": container,
            "workflow_id": self.workflow_id,
        }
        if details.get("params_positional"):
            data["params_positional"] = details["params_positional"]
        for key in ("priority", "local", "is_checkpoint"):
            if info.get(key) is not None:
                data[key] = info[key]
        if extra:
            data.update({k: v for k, v in extra.items() if v})
        outputs = absolute(info.get("output") or []) + absolute(info.get("benchmark") or [])
        self.recorder.record_job(
            spec, inputs=absolute(info.get("input") or []), outputs=outputs, logs=absolute(info.get("log") or []),
            initiated_by=self.run_uid, reference=f"{self.workflow_id}/{jobid}", reference_type=JOB_REFERENCE_TYPE,
            status=status, started_at=info.get("started_at"), finished_at=finished_at, json=data,
            exit_code=exit_code, error=error, environment=environment,
            environment_reference=environment_reference, created_by=self.created_by)
        self.counts[status] = self.counts.get(status, 0) + 1

    # ---- the end -------------------------------------------------------------------------------
    def close(self) -> None:
        """Finish the workflow Run (Snakemake 9 has no workflow-finished event) and flush the ledger."""
        if self.closed:
            return
        self.closed = True
        try:
            if not self._not_executing():
                self._finish()
        except Exception as error:
            self.warner.warn_error("flowledger could not finish the workflow run", error)
        finally:
            self.recorder.close(timeout=self.settings.wait)

    def _finish(self) -> None:
        workflow_errors = [note.event for note in self.errors if not note.consumed]
        if self.run_uid is None and not (workflow_errors and self._workflow_known()):
            return  # nothing ran: dry run, up to date, or a listing command
        self._ensure_workflow_run()
        if self.run_uid is None:
            return
        aborted = self.interrupted or any(_is_interrupt(e) for e in workflow_errors)
        now = time.time()
        for jobid in list(self.jobs):  # started but neither finished nor failed: cut short
            self._record_job(jobid, "aborted", now, error="the workflow ended before this job finished")
        if aborted:
            status = "aborted"
        elif workflow_errors or self.counts.get("errored"):
            status = "errored"
        else:
            status = "completed"
        error = "\n\n".join(str(e.data.get("msg") or "") for e in workflow_errors).strip() or None
        if error is None and status == "errored":
            error = f"{self.counts['errored']} job(s) failed"
        report = self.logfile if self.logfile and os.path.isfile(self.logfile) else None
        data: dict[str, Any] = {"job_counts": dict(self.counts)}
        if self._broken:
            data["recording_incomplete"] = True  # an internal error stopped recording part-way
        self.recorder.finish_run(self.run_uid, status=status, finished_at=now, error=error, json=data,
                                 report=report)

    def _workflow_known(self) -> bool:
        """An error is a failed invocation of a workflow only once Snakemake got as far as one."""
        return bool(self.info) if self.snakemake_major >= 9 else wi.live_workflow() is not None


def _is_interrupt(event: ev.Event) -> bool:
    return event.data.get("exception") == "KeyboardInterrupt" or \
        "Cancelling snakemake on user request" in str(event.data.get("msg") or "")


def _one_or_list(paths: list[str]) -> Any:
    """Snakemake rules have at most one benchmark file: store it as a string (None without one)."""
    return paths[0] if len(paths) == 1 else (paths or None)


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    try:
        return getattr(obj, name, default)
    except Exception:
        return default


def _cores(workflow: Any) -> int | None:
    try:
        return workflow.resource_settings.cores
    except Exception:
        return None


def _snakemake_version() -> str | None:
    module = sys.modules.get("snakemake")
    return getattr(module, "__version__", None)
