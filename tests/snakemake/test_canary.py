"""Canary: the private Snakemake APIs the flowledger plugin relies on (Snakemake 9 in .venv, 8 in .venv-sm8).

Log messages leave out named params, the conda environment, the container, a rule's source and exit codes,
so snakemake_logger_plugin_flowledger reads them from Snakemake's live objects through attributes that no
Snakemake release promises to keep. Its lookups fail soft (None, and the ledger silently gets thinner), so
this file is what fails after an upgrade, naming the API and the plugin file to port before widening the
pin. data/canary/probe.py runs a tiny workflow in each Snakemake's own Python (the Snakemake 8 environment
has no pytest) and writes what it found to facts.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from snakemake_support import DATA, clean_env, snakemake8

PROBE = DATA / "canary" / "probe.py"
WI = "workflow_info.py"


def test_private_names_on_the_installed_snakemake_9():
    """The fast part (no workflow run), so `-m "not slow"` still notices an upgrade of .venv."""
    import snakemake
    import snakemake.api
    from snakemake.iocontainers import Params
    from snakemake.jobs import Job
    from snakemake.workflow import Workflow

    assert snakemake.__version__.startswith("9."), f"Snakemake {snakemake.__version__} in .venv: supported is 9.x"
    assert callable(getattr(threading, "_register_atexit", None)), (
        "threading._register_atexit is gone: handler8.py's _register_exit falls back to atexit (runs too late)"
    )
    assert callable(getattr(Job, "log_info", None)), f"snakemake.jobs.Job.log_info is gone: {WI}'s job_from_stack"
    assert isinstance(Params()._names, dict), f"snakemake Params._names is gone: {WI}'s _named_indices"
    assert isinstance(Workflow.linemaps, property), f"Workflow.linemaps is gone: {WI}'s _snakefile_line"


@pytest.fixture(scope="module", params=[9, 8], ids=["snakemake9", "snakemake8"])
def found(request, tmp_path_factory) -> dict:
    """What the probe found on a real (tiny) workflow run by Snakemake 9 or 8."""
    python = sys.executable if request.param == 9 else str(snakemake8().executable.with_name("python"))
    workdir = tmp_path_factory.mktemp(f"canary{request.param}")
    done = subprocess.run(
        [python, str(PROBE)], cwd=workdir, env=clean_env(), capture_output=True, text=True, timeout=300
    )
    facts = workdir / "facts.json"
    assert facts.exists(), f"the canary probe broke on Snakemake {request.param}:\n{done.stderr[-4000:]}"
    return {"major": request.param, **json.loads(facts.read_text())}


def check(found: dict, key: str, expected, why: str) -> None:
    assert found[key] == expected, f"{why}\n(Snakemake {found['version']}: {key} = {found[key]!r})"


@pytest.mark.slow
def test_supported_versions_and_exit_hook(found):
    major, version = found["major"], found["version"]
    assert version.split(".")[0] == str(major), f"Snakemake {version} where {major}.x is supported and tested"
    check(
        found,
        "register_atexit",
        True,
        "threading._register_atexit is gone from this Python: handler8.py's "
        "_register_exit falls back to atexit, which runs after waiting for threads",
    )


@pytest.mark.slow
def test_job_info_is_logged_from_the_jobs_log_info(found):
    jobs = found["log_info_jobs"]
    assert isinstance(jobs, dict) and sorted(jobs) == ["a", "b"], (
        f"no job_info logged from a frame named `log_info` whose `self` is the Job (snakemake.jobs.Job.log_info): "
        f"{WI}'s job_from_stack (via tracker.py's probe_stack) finds no live Job; found {jobs!r}"
    )
    for rule, (depth, has_rule_and_dag) in jobs.items():
        assert has_rule_and_dag, f"Job lost .rule or .dag: {WI}'s job_from_stack rejects the job of rule {rule}"
        assert depth + 1 < 16, f"Job.log_info is {depth + 1} frames up: {WI}'s job_from_stack looks 16 deep"


@pytest.mark.slow
def test_live_workflow_and_dag_jobid(found):
    check(
        found,
        "live_workflow",
        "Workflow",
        "the module global snakemake.workflow.workflow is gone: "
        f"{WI}'s live_workflow finds no Workflow, so every lookup from it is lost",
    )
    pairs = found["dag_jobid"]  # [{rule: jobid logged}, {rule: jobid in DAG._jobid}]
    assert isinstance(pairs, list) and pairs[0] and pairs[0] == pairs[1], (
        f"snakemake.dag.DAG._jobid no longer maps each Job to its logged jobid ({pairs!r}): {WI}'s job_for_id "
        "fallback needs porting"
    )
    check(found, "dag_jobid_types", ["Job->int"], f"DAG._jobid is no longer {{Job: int}}: {WI}'s job_for_id")


@pytest.mark.slow
def test_linemaps_give_the_rules_line(found):
    assert isinstance(found["linemap"], list) and found["linemap"][0] == found["linemap"][1], (
        f"Workflow.linemaps[rule.snakefile][rule.lineno] no longer is the Snakefile line of `rule a:` "
        f"({found['linemap']!r}): {WI}'s _snakefile_line (rule references, run: block sources) needs porting"
    )


@pytest.mark.slow
def test_params_names(found):
    why = f"Params._names (name -> (start, end or None) of a Namedlist) changed: {WI}'s _named_indices and job_details"
    check(
        found,
        "params",
        [{"size": [2, None], "label": [3, None]}, [1, "positional", [2, 3], "x"], {"size": [2, 3], "label": "x"}],
        why,
    )


@pytest.mark.slow
def test_job_conda_env_spec_and_container(found):
    # 8.30 runs `conda info` for a job with a conda directive even without --use-conda: the probe gives it none
    check(
        found,
        "conda_env_spec",
        "env.yaml" if found["major"] >= 9 else None,
        f"Job.conda_env_spec(.file, a SourceFile with get_path_or_uri) changed: {WI}'s job_details, conda_env_of, "
        "source_path",
    )
    check(found, "container_img_url", "docker://busybox:1.36", f"Job.container_img_url changed: {WI}'s job_details")


@pytest.mark.slow
def test_rule_attributes(found):
    nothing = {"shellcmd": "None", "script": "None", "notebook": "None", "wrapper": "None", "is_run": "False"}
    check(
        found,
        "rules",
        {
            "a": {**nothing, "shellcmd": "echo {params.label} > {output}"},
            "scripted": {**nothing, "script": "scripts/s.py"},
            "ran": {**nothing, "is_run": "True"},
        },
        f"Rule.shellcmd/.script/.notebook/.wrapper/.is_run changed: {WI}'s rule_source (a rule's Transform source)",
    )
    check(
        found,
        "rule_files",
        ["Snakefile", True],
        f"Rule.snakefile or Rule.basedir (a SourceFile) changed: {WI}'s rule_text and _resolve_rule_file",
    )


@pytest.mark.slow
def test_workflow_attributes(found):
    expected = {
        "main_snakefile": "Snakefile",
        "included": ["Snakefile"],
        "rules": ["a", "all", "b", "ran", "scripted"],
        "touch": False,
        "basedir": True,
        "config": {"note": "canary"},
        "version": "1.2",
        "cores": 2,
        "configfiles": ["config.yaml"],
    }
    check(
        found,
        "workflow",
        expected,
        "Workflow.main_snakefile/.included/.rules/.touch/.basedir/.config/.globals/"
        f".resource_settings.cores/.overwrite_configfiles changed: {WI}'s workflow_files and configfiles, "
        "workflow_cores, and tracker.py's _workflow_transform and _not_executing",
    )


@pytest.mark.slow
def test_failed_jobs_exception_is_on_the_stack(found):
    errors = found["job_errors"]
    assert isinstance(errors, dict) and list(errors) == ["b"], (
        "no Snakemake frame holds the failed job's exception (a local ex/e/exc/error) when job_error is logged: "
        f"{WI}'s exception_from_stack loses the exit code and error text; found {errors!r}"
    )
    depth, function, where = errors["b"]  # where: [path in the chain, exit code] of the CalledProcessError
    assert where and where[1] == 3, (
        f"no CalledProcessError (exit 3) in the exception's __cause__/__context__/"
        f"RuleException._include chain ({where!r}): {WI}'s exit_code_of"
    )
    assert depth + 1 < 24, f"{function} is {depth + 1} frames up: {WI}'s exception_from_stack looks 24 deep"


@pytest.mark.slow
def test_snakemake8_logger_mode_and_dryrun(found):
    if found["major"] >= 9:
        pytest.skip("Snakemake 9 uses the logger plugin interface, not handler8.py")
    check(
        found,
        "logger",
        ["DEFAULT", False],
        "snakemake.logging.logger.mode/.dryrun changed: handler8.py's _is_main_process and _is_dryrun",
    )


@pytest.mark.slow
def test_local_executor_spawns_run_jobs_with_check_call(found):
    check(
        found,
        "spawn_job",
        {
            "format_job_exec": True,
            "check_call_in_a_shell": True,
            "raises_SpawnedJobError": True,
            "run_jobs_spawned": True,
        },
        "snakemake.executors.local.Executor.spawn_job (or run_single_job, format_job_exec, SpawnedJobError) changed: "
        "child_stderr.py's keep_child_stderr replaces spawn_job with its own copy plus a tee, to record a failed "
        "`run:` block's traceback",
    )
