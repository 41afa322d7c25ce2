"""Fast tests of the pure mapping (Snakemake's data -> TransformSpec, run fields, paths): no Snakemake, no
ledger, no files."""

from __future__ import annotations

import ast
import hashlib
import inspect

from flowledger.plugin_api import RunStatus, TransformSpec
from snakemake_logger_plugin_flowledger import mapping
from snakemake_logger_plugin_flowledger.events import Error, JobError, JobInfo
from snakemake_logger_plugin_flowledger.workflow_info import JobDetails, RuleSource, WorkflowFacts

WORKDIR = "/home/user/project"


def facts(**changes) -> WorkflowFacts:
    base = dict(
        snakefile=f"{WORKDIR}/workflow/Snakefile",
        source="rule all:\n",
        basedir=f"{WORKDIR}/workflow",
        workdir=WORKDIR,
        files=(f"{WORKDIR}/workflow/Snakefile", f"{WORKDIR}/workflow/scripts/s.py"),
        files_sha256="ab" * 32,
        git=None,
        cmd="snakemake --cores 2",
        configfiles=[],
        config_md5=None,
        config={"b": 1, "a": [2]},
        snakemake_version="8.30.0",
        host="h",
        platform="Linux",
        python_version="3.11",
        cores=2,
        declared_version=None,
        user="me",
    )
    base.update(changes)
    return WorkflowFacts(**base)


def test_the_workflow_transform_is_named_after_its_directory_and_versioned_by_its_files():
    spec = mapping.workflow_transform(facts())
    assert spec == TransformSpec(
        name="project",
        type="pipeline",
        version="sha256:" + "ab" * 6,
        source_code="rule all:\n",
        reference=f"{WORKDIR}/workflow/Snakefile",
        reference_type="snakefile",
        description="Snakemake workflow project",
    )
    assert mapping.workflow_transform(facts(), "chosen").name == "chosen"
    assert mapping.workflow_transform(facts(basedir="/x/analysis")).name == "analysis"
    assert mapping.workflow_name("/") == "snakemake-workflow"


def test_the_workflow_version_is_git_head_marked_dirty_by_a_hash():
    clean = {"commit": "0123456789abcdef", "dirty": False, "remote": None}
    assert mapping.workflow_version("cd" * 32, clean) == "0123456789ab"
    assert mapping.workflow_version("cd" * 32, {**clean, "dirty": True}) == "0123456789ab-dirty-cdcdcdcd"
    assert mapping.workflow_version("cd" * 32, None) == "sha256:cdcdcdcdcdcd"


def test_workflow_json():
    data = mapping.workflow_json(facts(git={"commit": "c", "dirty": False}, declared_version="1.2"), {"total": 3})
    assert data["workflow_files"] == ["Snakefile", "scripts/s.py"]  # relative to the basedir
    assert data["config_md5"] == hashlib.md5(b'{"a": [2], "b": 1}').hexdigest()  # as Snakemake 9 computes it
    assert data["git"] == {"commit": "c", "dirty": False} and data["declared_version"] == "1.2"
    assert data["job_stats"] == {"total": 3} and data["cores"] == 2 and data["cmd"] == "snakemake --cores 2"
    told = mapping.workflow_json(facts(config_md5="from-snakemake-9", config=None))
    assert told["config_md5"] == "from-snakemake-9" and "job_stats" not in told and "git" not in told
    assert mapping.workflow_json(facts(config=None))["config_md5"] == hashlib.md5(b"{}").hexdigest()


def test_rule_transforms_by_kind():
    shell = mapping.rule_transform("align", RuleSource("shell", "bwa {input}", "Snakefile:3"))
    assert (shell.type, shell.source_code, shell.reference, shell.reference_type) == (
        "rule",
        "bwa {input}",
        "Snakefile:3",
        "snakemake_rule",
    )
    assert shell.description == "Snakemake rule align (shell)"
    assert mapping.rule_transform("s", RuleSource("script", "print()", "/p/s.py")).reference_type == "script"
    assert mapping.rule_transform("n", RuleSource("notebook", "{}", "/p/n.ipynb")).reference_type == "notebook"
    assert mapping.rule_transform("w", RuleSource("wrapper", "v1/bio/x", "v1/bio/x")).reference_type == (
        "snakemake_wrapper"
    )
    unknown = mapping.rule_transform("?", RuleSource())
    assert unknown.source_code is None and unknown.description == "Snakemake rule ?"


def test_a_finished_job_as_a_run():
    info = JobInfo(
        time=5.0,
        jobid=7,
        rule="make_raw",
        input=("data/B.txt", "/abs/ref.txt"),
        output=("results/B.txt", "s3://bucket/B.txt"),
        log=("logs/B.log",),
        benchmark=("benchmarks/B.tsv",),
        wildcards={"sample": "B"},
        threads=1,
        shellcmd="tr a b",
        resources={"mem_mb": 100},
        priority=0,
        local=False,
    )
    details = JobDetails(params={"prefix": "X"}, params_positional=[1], container="docker://debian:12-slim")
    run = mapping.job_run(
        info,
        details,
        workflow_id="wf",
        workdir=WORKDIR,
        source_kind="shell",
        status=RunStatus.COMPLETED,
        finished_at=9.0,
    )
    assert run.inputs == [f"{WORKDIR}/data/B.txt", "/abs/ref.txt"]
    assert run.outputs == [f"{WORKDIR}/results/B.txt", "s3://bucket/B.txt", f"{WORKDIR}/benchmarks/B.tsv"]
    assert run.logs == [f"{WORKDIR}/logs/B.log"]
    assert (run.reference, run.reference_type) == ("wf/7", "snakemake_job")
    assert (run.status, run.started_at, run.finished_at, run.exit_code, run.error) == (
        RunStatus.COMPLETED,
        5.0,
        9.0,
        None,
        None,
    )
    assert (run.environment, run.environment_reference) == (None, "docker://debian:12-slim")
    assert run.json["benchmark"] == "benchmarks/B.tsv" and run.json["log"] == ["logs/B.log"]
    assert run.json["params"] == {"prefix": "X"} and run.json["params_positional"] == [1]
    assert run.json["wildcards"] == {"sample": "B"} and run.json["shellcmd"] == "tr a b"
    assert run.json["priority"] == 0 and run.json["local"] is False and "is_checkpoint" not in run.json
    assert "error_event" not in run.json


def test_job_environments():
    assert mapping.job_environment(JobDetails(conda_env={"file": "/p/env.yaml"})) == ("/p/env.yaml", None)
    assert mapping.job_environment(JobDetails(conda_env={"name": "tools"})) == (None, "conda:tools")
    assert mapping.job_environment(JobDetails(conda_env={"dir": "/envs/x"}, container="docker://a")) == (
        None,
        "docker://a",
    )
    assert mapping.job_environment(JobDetails()) == (None, None)


def test_a_failed_job():
    error = Error(msg="Command 'exit 3' returned non-zero exit status 3.", exception="RuleException")
    assert mapping.job_failure(error, exit_code=None, described=None, rule="r", jobid=1) == (error.msg, 3)
    assert mapping.job_failure(error, exit_code=4, described="x", rule="r", jobid=1) == (error.msg, 4)  # live wins
    assert mapping.job_failure(None, exit_code=1, described="SpawnedJobError", rule="r", jobid=1) == (
        "SpawnedJobError",
        1,
    )
    assert mapping.job_failure(None, exit_code=None, described=None, rule="r", jobid=2) == (
        "Error in rule r, jobid 2",
        None,
    )
    told = JobError(jobid=2, rule="r", conda_env="envs/x.yaml")
    run = mapping.job_run(
        told,
        JobDetails(),
        workflow_id="wf",
        workdir=WORKDIR,
        source_kind=None,
        status=RunStatus.ERRORED,
        finished_at=1.0,
        error="boom",
        exit_code=3,
        error_event=told,
    )
    assert (run.status, run.error, run.exit_code) == (RunStatus.ERRORED, "boom", 3)
    assert run.json["error_event"] == {"conda_env": "envs/x.yaml"}


def test_workflow_outcomes():
    counts = {RunStatus.COMPLETED: 3, RunStatus.ERRORED: 0, RunStatus.ABORTED: 0}
    done = mapping.workflow_outcome(interrupted=False, errors=[], counts=counts)
    assert (done.status, done.error) == (RunStatus.COMPLETED, None)
    assert done.json == {"job_counts": {"completed": 3, "errored": 0, "aborted": 0}}
    failed = mapping.workflow_outcome(interrupted=False, errors=[], counts={**counts, RunStatus.ERRORED: 2})
    assert (failed.status, failed.error) == (RunStatus.ERRORED, "2 job(s) failed")
    workflow_error = Error(msg="WorkflowError:\nAt least one job did not complete successfully.")
    errored = mapping.workflow_outcome(
        interrupted=False, errors=[workflow_error, Error(msg="more")], counts=counts, incomplete=True
    )
    assert errored.status == RunStatus.ERRORED and errored.error == workflow_error.msg + "\n\nmore"
    assert errored.json["recording_incomplete"] is True
    assert mapping.workflow_outcome(interrupted=True, errors=[], counts=counts).status == RunStatus.ABORTED
    ctrl_c = Error(msg="x", exception="KeyboardInterrupt")
    assert mapping.workflow_outcome(interrupted=False, errors=[ctrl_c], counts=counts).status == RunStatus.ABORTED
    assert mapping.JOB_OUTCOMES == (RunStatus.COMPLETED, RunStatus.ERRORED, RunStatus.ABORTED)


def test_the_mapping_does_no_io():
    """No files, processes, clock, working directory or Snakemake: only what it is given."""
    tree = ast.parse(inspect.getsource(mapping))
    called = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    forbidden = {
        "open",
        "os.getcwd",
        "os.path.abspath",
        "os.path.isfile",
        "os.path.exists",
        "time.time",
        "subprocess.run",
        "getpass.getuser",
        "platform.node",
    }
    assert not called & forbidden
    imported = {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom) for alias in node.names
    } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not {name for name in imported if name.split(".")[0] in {"snakemake", "subprocess", "time", "getpass"}}


def test_the_config_name_beats_the_setting_and_the_folder():
    assert mapping.workflow_transform(facts(config={"name": "rna-seq"}), "chosen").name == "rna-seq"
    assert mapping.workflow_transform(facts(config={"name": "  "}), "chosen").name == "chosen"
    assert mapping.workflow_transform(facts(config={"name": ["x"]})).name == "project"
    assert mapping.workflow_transform(facts(config=None)).name == "project"


def test_annotations_are_stripped_to_the_real_path_and_kept_as_flags():
    strip = mapping.strip_annotation
    assert strip("test.0.txt (pipe)") == ("test.0.txt", "pipe")
    assert strip("foo.socket (service)") == ("foo.socket", "service")
    assert strip("test.txt (update)") == ("test.txt", "update")
    assert strip("test.txt (before update)") == ("test.txt", "before_update")
    assert strip("s3://b/k (send to storage)") == ("s3://b/k", None)
    assert strip("my file (1).txt") == ("my file (1).txt", None)
    assert strip("plain.txt") == ("plain.txt", None)
    info = JobInfo(jobid=3, rule="r", input=("in (before update)",), output=("out.0 (pipe)", "t.txt"))
    details = JobDetails(flags={"t.txt": ["temp"], "out.0": ["pipe"]})
    run = mapping.job_run(
        info, details, workflow_id="w", workdir=WORKDIR, source_kind="shell", status=RunStatus.COMPLETED, finished_at=2
    )
    assert run.inputs == [f"{WORKDIR}/in"]
    assert run.outputs == [f"{WORKDIR}/out.0", f"{WORKDIR}/t.txt"]
    assert run.json["flags"] == {
        f"{WORKDIR}/in": ["before_update"],
        f"{WORKDIR}/out.0": ["pipe"],
        f"{WORKDIR}/t.txt": ["temp"],
    }
    assert mapping.temp_outputs(info, details, WORKDIR) == [f"{WORKDIR}/t.txt"]
    grouped = mapping.job_run(
        info,
        JobDetails(group={"name": "g", "jobid": "u"}),
        workflow_id="w",
        workdir=WORKDIR,
        source_kind="shell",
        status=RunStatus.COMPLETED,
        finished_at=2,
    )
    assert grouped.json["group"] == {"name": "g", "jobid": "u"}
