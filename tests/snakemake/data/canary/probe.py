"""Canary probe, run by tests/snakemake/test_canary.py with each Snakemake's Python, in an empty directory.

Runs a tiny workflow in-process through Snakemake's CLI and writes facts.json: what the private lookups of
the flowledger plugin find on the live objects. A lookup that raises stores its error instead, so the test
can name what broke. Snakemake 8 loads this file again as its --log-handler-script (as module `log`);
Snakemake 9 gets a filter on the `snakemake.logging` logger, as the plugin does.
"""

import json
import logging
import os
import subprocess
import sys
import threading

import snakemake

SNAKEFILE = """\
__version__ = "1.2"

rule all:
    input: "a.txt", "b.txt"

rule a:
    output: "a.txt"
    params: 1, "positional", size=[2, 3], label="x"
    {conda}container: "docker://busybox:1.36"
    shell: "echo {{params.label}} > {{output}}"

rule b:
    output: "b.txt"
    shell: "exit 3"

rule scripted:
    output: "s.txt"
    script: "scripts/s.py"

rule ran:
    output: "r.txt"
    run:
        print("never runs")
"""


def on_log(kind, jobid, rule):
    """Where Snakemake logs a job_info or job_error: walk up the stack as workflow_info.py does."""
    seen = sys.modules["__main__"].SEEN
    if kind == "job_info":
        seen["logged"][rule] = jobid
    frame, depth = sys._getframe(1), 0
    while frame is not None:
        here = frame.f_locals
        if kind == "job_info" and frame.f_code.co_name == "log_info" and type(here.get("self")).__name__ == "Job":
            seen["jobs"][rule] = (here["self"], depth)
            return
        if kind == "job_error" and os.sep + "snakemake" + os.sep in frame.f_code.co_filename:
            for name in ("ex", "e", "exc", "error"):
                if isinstance(here.get(name), BaseException):
                    seen["errors"][rule] = (here[name], depth, frame.f_code.co_name)
                    return
        frame, depth = frame.f_back, depth + 1


def log_handler(msg):  # Snakemake 8
    if msg.get("level") in ("job_info", "job_error"):
        on_log(msg["level"], msg.get("jobid"), msg.get("name"))


class Probe(logging.Filter):  # Snakemake 9
    def filter(self, record):
        kind = str(getattr(record, "event", ""))
        if kind in ("job_info", "job_error"):
            on_log(kind, getattr(record, "jobid", None), getattr(record, "rule_name", None))
        return True


def exit_code_path(error, path="ex"):
    """Where a CalledProcessError sits in an exception's chain, as workflow_info.exit_code_of walks it."""
    if isinstance(error, subprocess.CalledProcessError):
        return [path, error.returncode]
    for attr, nexts in (
        ("__cause__", [error.__cause__]),
        ("__context__", [error.__context__]),
        ("_include", getattr(error, "_include", None) or []),
    ):
        for inner in nexts:
            if inner is not None and inner is not error and (found := exit_code_path(inner, f"{path}.{attr}")):
                return found
    return None


def spawn_job_shape():
    """How the local executor runs a `run:` job in a child: child_stderr.py replaces spawn_job with a tee."""
    import inspect

    from snakemake.exceptions import SpawnedJobError
    from snakemake.executors.local import Executor

    source = inspect.getsource(Executor.spawn_job)
    return {
        "format_job_exec": callable(getattr(Executor, "format_job_exec", None)),
        "check_call_in_a_shell": "subprocess.check_call(cmd, shell=True)" in source,
        "raises_SpawnedJobError": "raise SpawnedJobError()" in source and issubclass(SpawnedJobError, Exception),
        "run_jobs_spawned": "self.spawn_job" in inspect.getsource(Executor.run_single_job),
    }


def collect(workflow):
    facts = {}

    def fact(name, get):
        try:
            facts[name] = get()
        except Exception as error:
            facts[name] = f"{type(error).__name__}: {error}"

    def path(source):  # as workflow_info.source_path: a SourceFile (9 wants secret_free, 8 takes nothing) or a str
        method = getattr(source, "get_path_or_uri", None)
        try:
            return str(method(secret_free=True) if method else source)
        except TypeError:
            return str(method())

    def job_a():  # the live Job of rule a: from the frame walk, else from the DAG
        return SEEN["jobs"]["a"][0] if "a" in SEEN["jobs"] else next(j for j in workflow.dag.jobs if j.rule.name == "a")

    def rule_a():
        return workflow.get_rule("a")

    fact("live_workflow", lambda: type(workflow).__name__)
    fact("version", lambda: snakemake.__version__)
    fact("register_atexit", lambda: callable(getattr(threading, "_register_atexit", None)))
    fact(
        "log_info_jobs",
        lambda: {
            rule: [depth, hasattr(job, "rule") and hasattr(job, "dag")] for rule, (job, depth) in SEEN["jobs"].items()
        },
    )
    fact(
        "dag_jobid",
        lambda: [
            SEEN["logged"],
            {job.rule.name: jobid for job, jobid in workflow.dag._jobid.items() if job.rule.name in SEEN["logged"]},
        ],
    )
    fact(
        "dag_jobid_types",
        lambda: sorted({f"{type(k).__name__}->{type(v).__name__}" for k, v in workflow.dag._jobid.items()}),
    )
    fact(
        "linemap",
        lambda: [
            workflow.linemaps[rule_a().snakefile][rule_a().lineno],
            open("Snakefile").read().splitlines().index("rule a:") + 1,
        ],
    )
    fact("params", lambda: [dict(job_a().params._names), list(job_a().params), dict(job_a().params.items())])
    fact("conda_env_spec", lambda: job_a().conda_env_spec and os.path.basename(path(job_a().conda_env_spec.file)))
    fact("container_img_url", lambda: job_a().container_img_url)
    fact(
        "rules",
        lambda: {
            name: {
                attr: str(getattr(workflow.get_rule(name), attr))
                for attr in ("shellcmd", "script", "notebook", "wrapper", "is_run")
            }
            for name in ("a", "scripted", "ran")
        },
    )
    fact("rule_files", lambda: [os.path.basename(str(rule_a().snakefile)), path(rule_a().basedir) == os.getcwd()])
    fact(
        "workflow",
        lambda: {
            "main_snakefile": os.path.basename(str(workflow.main_snakefile)),
            "included": [os.path.basename(path(s)) for s in workflow.included],
            "rules": sorted(rule.name for rule in workflow.rules),
            "touch": workflow.touch,
            "basedir": str(workflow.basedir) == os.getcwd(),
            "config": dict(workflow.config),
            "version": workflow.globals.get("__version__"),
            "cores": workflow.resource_settings.cores,
            "configfiles": [os.path.basename(str(f)) for f in workflow.overwrite_configfiles],
        },
    )
    fact("spawn_job", spawn_job_shape)
    logger = getattr(sys.modules.get("snakemake.logging"), "logger", None)
    fact("logger", lambda: [str(getattr(logger.mode, "name", logger.mode)), logger.dryrun])
    fact(
        "job_errors",
        lambda: {
            rule: [depth, function, exit_code_path(error)] for rule, (error, depth, function) in SEEN["errors"].items()
        },
    )
    return facts


SEEN = {"logged": {}, "jobs": {}, "errors": {}}  # job_info: rule -> jobid; rule -> what the stack walks found
if __name__ == "__main__":
    from snakemake.cli import main

    major = int(snakemake.__version__.split(".")[0])
    # Snakemake 8.30 runs `conda info` for a job with a conda directive, even without --use-conda
    for name, text in {
        "Snakefile": SNAKEFILE.format(conda='conda: "env.yaml"\n    ' if major >= 9 else ""),
        "config.yaml": "note: canary\n",
        "env.yaml": "dependencies: []\n",
    }.items():
        with open(name, "w") as handle:
            handle.write(text)
    args = ["--cores", "2", "--keep-going", "--configfile", "config.yaml", "--quiet"]
    if major >= 9:
        logging.getLogger("snakemake.logging").addFilter(Probe())
        args += ["--scheduler", "greedy"]
    else:
        args += ["--log-handler-script", os.path.abspath(__file__)]
    try:
        main(args)
    except SystemExit:
        pass  # b.txt fails on purpose
    with open("facts.json", "w") as handle:
        json.dump(collect(getattr(sys.modules.get("snakemake.workflow"), "workflow", None)), handle, indent=1)
