"""Real Snakemake 9 (`--logger flowledger`) and 8 (`--log-handler-script`), checked against Snakemake's own
`--detailed-summary` and against what the issue asks to be recorded."""

from __future__ import annotations

import getpass
import hashlib
import json
from pathlib import Path

import pytest
from snakemake_support import sha256

pytestmark = pytest.mark.slow

SHELL_TEMPLATE = "(tr a-z A-Z < {input} | sed 's/^/{params.prefix}:/' > {output}) 2> {log}"


def workflow_runs(fl):
    return fl.Run.filter(reference_type="snakemake_id").order_by("id").all()


def jobs_of(fl, workflow_run):
    return fl.Run.filter(initiated_by_run=workflow_run).order_by("id").all()


def job(fl, workflow_run, rule, **wildcards):
    found = [r for r in jobs_of(fl, workflow_run) if r.transform.name == rule and r.json["wildcards"] == wildcards]
    assert len(found) == 1, (rule, wildcards, found)
    return found[0]


def rel(story, path: str) -> str:
    return str(Path(path).relative_to(story.workdir))


def latest_makers(fl) -> dict[int, object]:
    """artifact id -> the last job run that wrote it (made it, or reproduced its bytes)."""
    makers = {}
    for run in fl.Run.filter(reference_type="snakemake_job").order_by("id").all():
        for artifact in [*run.outputs.all(), *run.replicated_output_artifacts.all()]:
            makers[artifact.id] = run
    return makers


def check_against_summary(fl, story, step, workflow_run) -> None:
    """Each output row of `--detailed-summary` names the rule, inputs, logs and command of its job; the
    rows grouped by (rule, inputs, command) are the jobs, and the invocation's own jobs are exactly those
    whose outputs it (re)wrote."""
    makers = latest_makers(fl)
    rows = step.summary
    assert rows
    made_by: dict[tuple, dict] = {}  # (rule, inputs, shellcmd) -> {id: job run} of the runs that made those rows
    for row in rows:
        path = story.workdir / row["output_file"]
        if row["status"] == "missing":  # a failed job's output: nothing may claim to have made it
            assert fl.Artifact.filter(path=str(path)).one_or_none() is None, row
            continue
        artifact = fl.Artifact.filter(path=str(path)).one()
        assert artifact.hash == step.files[row["output_file"]]
        run = makers[artifact.id]
        assert run.transform.name == row["rule"], row
        assert run.transform.type == "rule"
        assert run.status == "completed"
        assert sorted(rel(story, a.path) for a in run.inputs.all()) == sorted(row["input-file(s)"].split(",")), row
        produced = {rel(story, a.path) for a in [*run.outputs.all(), *run.replicated_output_artifacts.all()]}
        assert {f for f in row["log-file(s)"].split(",") if f} <= produced, row
        assert run.json["shellcmd"] == (None if row["shellcmd"] == "-" else row["shellcmd"]), row
        assert run.initiated_by_run.transform.type == "pipeline"
        made_by.setdefault((row["rule"], row["input-file(s)"], row["shellcmd"]), {})[run.id] = run
    assert all(len(runs) == 1 for runs in made_by.values()), made_by  # one job made all outputs of a job
    makers_here = {run.id for runs in made_by.values() for run in runs.values() if run.initiated_by_run == workflow_run}
    completed_here = {r.id for r in jobs_of(fl, workflow_run) if r.status == "completed" and r.transform.name != "all"}
    assert makers_here == completed_here  # `all` has no outputs, so no rows


def test_one_workflow_run_per_executing_invocation(story, open_ledger):
    fl = open_ledger(story.steps["failure"].ledger)
    runs = workflow_runs(fl)
    # success, rerun, code change, failure; the up-to-date and the dry-run invocations recorded nothing
    assert [r.status for r in runs] == ["completed", "completed", "completed", "errored"]
    assert len({r.reference for r in runs}) == 4
    for run in runs:
        assert run.reference_type == "snakemake_id"
        assert run.transform.type == "pipeline"
        assert run.transform.name == "project"
        assert run.started_at and run.finished_at
        assert run.created_by.handle == getpass.getuser()
        data = run.json
        assert data["snakemake_version"].startswith(f"{story.major}.")
        assert data["cores"] == 2
        assert "--cores 2" in data["cmd"]
        assert data["config_md5"]
        assert data["host"]
        assert data["snakefile"] == str(story.workdir / "Snakefile")
        # Snakemake's own log of the invocation is the run's report
        assert run.report.path.startswith(str(story.workdir / ".snakemake" / "log"))
    # only the rerun was given a config file (an unused one, so the workflow's version stays the same)
    assert [r.json["configfiles"] for r in runs] == [[], [str(story.workdir / "config.yaml")], [], []]
    md5s = [r.json["config_md5"] for r in runs]
    assert md5s[0] == md5s[2] == md5s[3] == hashlib.md5(b"{}").hexdigest()  # Snakemake 9's config_md5
    assert md5s[1] == hashlib.md5(json.dumps({"note": "rerun"}).encode()).hexdigest()
    if story.major >= 9:  # Snakemake's workflow id, as its log prints it (Snakemake 8 has none)
        assert all(f"Workflow ID: {r.reference}" in Path(r.report.path).read_text() for r in runs)
    # not in git: the version is a hash of the Snakefile and scripts, so the code change made a new one
    versions = [r.transform.version for r in runs]
    assert versions[0] == versions[1] != versions[2] == versions[3]
    assert all(v.startswith("sha256:") for v in versions)
    assert not story.decoy.exists()  # the plugin's db setting won over FLOWLEDGER_DB


def test_steps_exit_as_snakemake_does(story):
    codes = {name: step.returncode for name, step in story.steps.items()}
    assert codes == {"success": 0, "uptodate": 0, "dryrun": 0, "rerun": 0, "code_change": 0, "failure": 1}
    for step in story.steps.values():
        assert "WARNING: flowledger" not in step.stderr
        assert "Traceback" not in step.stderr or step.name == "failure"


def test_lineage_matches_detailed_summary(story, open_ledger):
    for name in ("success", "rerun", "code_change", "failure"):
        step = story.steps[name]
        fl = open_ledger(step.ledger)
        check_against_summary(fl, story, step, workflow_runs(fl)[-1])


def test_jobs_carry_what_snakemake_knew(story, open_ledger):
    fl = open_ledger(story.steps["success"].ledger)
    (workflow,) = workflow_runs(fl)
    runs = jobs_of(fl, workflow)
    assert sorted(r.transform.name for r in runs) == sorted(
        ["make_raw"] * 3 + ["split"] * 3 + ["stats"] * 3 + ["report", "all"]
    )
    assert workflow.json["job_counts"] == {"completed": 11, "errored": 0, "aborted": 0}

    raw = job(fl, workflow, "make_raw", sample="A")
    assert raw.reference.startswith(workflow.reference + "/")
    assert raw.reference_type == "snakemake_job"
    assert int(raw.reference.rsplit("/", 1)[1]) == raw.json["jobid"]
    assert raw.status == "completed" and raw.exit_code is None
    data = raw.json
    assert data["params"] == {"prefix": "X", "n": 3}
    assert data["threads"] == 1
    assert data["resources"]["mem_mb"] == 100
    assert data["shellcmd"] == (
        "(tr a-z A-Z < data/A.txt | sed 's/^/X:/' > results/raw/A.upper.txt) 2> logs/make_raw/A.log"
    )
    assert data["reason"].startswith("Missing output files")
    assert data["log"] == ["logs/make_raw/A.log"]
    assert data["benchmark"] == "benchmarks/make_raw/A.tsv"
    assert data["container"] == "docker://debian:12-slim"
    assert raw.environment.path == "docker://debian:12-slim"
    assert rel(story, raw.report.path) == "logs/make_raw/A.log"
    outputs = {rel(story, a.path) for a in raw.outputs.all()}
    assert outputs == {"results/raw/A.upper.txt", "logs/make_raw/A.log", "benchmarks/make_raw/A.tsv"}
    assert raw.transform.source_code == SHELL_TEMPLATE

    split = job(fl, workflow, "split", sample="B")
    assert {rel(story, a.path) for a in split.inputs.all()} == {"results/raw/B.upper.txt", "data/ref.txt"}
    assert {rel(story, a.path) for a in split.outputs.all()} >= {"results/split/B.head.txt", "results/split/B.tail.txt"}
    # an output consumed by another job is the same Artifact
    made = fl.Artifact.filter(path=str(story.workdir / "results/raw/B.upper.txt")).one()
    assert made.run == job(fl, workflow, "make_raw", sample="B")
    assert made in split.inputs.all()

    stats = job(fl, workflow, "stats", sample="C")
    assert stats.transform.source_code == (story.workdir / "scripts/stats.py").read_text()
    assert stats.json["params"] == {"mode": "count"} and stats.json["shellcmd"] is None

    report = job(fl, workflow, "report")
    assert report.transform.source_code.startswith("run:\n")
    assert "out.write(params.title" in report.transform.source_code
    assert report.json["params"] == {"title": "Lineage report"}
    graph = fl.lineage.ancestors(fl.Artifact.filter(path=str(story.workdir / "results/report.txt")).one())
    ancestors = {rel(story, a.path) for a in graph.artifacts.values()}
    assert {"data/A.txt", "data/B.txt", "data/C.txt", "data/ref.txt"} <= ancestors


def test_uptodate_and_dry_runs_record_nothing(story, open_ledger):
    counts = {}
    for name in ("success", "uptodate", "dryrun"):
        fl = open_ledger(story.steps[name].ledger)
        counts[name] = fl.Run.filter().count()
    assert counts["success"] == counts["uptodate"] == counts["dryrun"] == 12
    assert "Nothing to be done" in story.steps["uptodate"].stderr + story.steps["uptodate"].stdout


def test_rerun_links_new_input_version(story, open_ledger):
    fl = open_ledger(story.steps["rerun"].ledger)
    first, rerun = workflow_runs(fl)
    assert sorted(r.transform.name for r in jobs_of(fl, rerun)) == ["all", "make_raw", "report", "split", "stats"]
    data_b = fl.Artifact.filter(path=str(story.workdir / "data/B.txt")).one()
    assert data_b.version == 2 and data_b.hash == story.steps["rerun"].files["data/B.txt"]
    raw_b = job(fl, rerun, "make_raw", sample="B")
    assert [a.id for a in raw_b.inputs.all()] == [data_b.id]
    assert "data/B.txt" in raw_b.json["reason"]
    # the first line of B did not change: split's head output has the same bytes -> replicated, not new
    head = fl.Artifact.filter(path=str(story.workdir / "results/split/B.head.txt")).one()
    assert head.version == 1 and head.run.initiated_by_run == first
    assert head in job(fl, rerun, "split", sample="B").replicated_output_artifacts.all()
    tail = fl.Artifact.filter(path=str(story.workdir / "results/split/B.tail.txt")).one()
    assert tail.version == 2 and tail.run.initiated_by_run == rerun
    report = fl.Artifact.filter(path=str(story.workdir / "results/report.txt")).one()
    assert data_b.id in fl.lineage.ancestors(report).artifacts


def test_changed_rule_code_is_a_new_transform_version(story, open_ledger):
    fl = open_ledger(story.steps["code_change"].ledger)
    versions = fl.Transform.filter(name="make_raw").order_by("id").all()
    assert len(versions) == 2
    assert versions[0].source_code == SHELL_TEMPLATE
    assert "tr 'a-z' 'A-Z'" in versions[1].source_code
    changed = workflow_runs(fl)[-1]
    raw = job(fl, changed, "make_raw", sample="A")
    assert raw.transform == versions[1]
    # same bytes as before: the output is linked as a replicated output of the new run
    out = fl.Artifact.filter(path=str(story.workdir / "results/raw/A.upper.txt")).one()
    assert out.version == 1 and out in raw.replicated_output_artifacts.all()
    assert len(fl.Transform.filter(name="split").all()) == 1  # unchanged rules keep their Transform


def test_failed_jobs_with_keep_going(story, open_ledger):
    fl = open_ledger(story.steps["failure"].ledger)
    failed = workflow_runs(fl)[-1]
    assert failed.status == "errored"
    assert "At least one job did not complete successfully" in failed.error
    assert failed.json["job_counts"] == {"completed": 1, "errored": 2, "aborted": 0}
    prep = job(fl, failed, "prep_fail")
    assert prep.status == "completed"
    shell = job(fl, failed, "fail_shell")
    assert shell.status == "errored" and shell.exit_code == 3
    assert "exit status 3" in shell.error
    assert rel(story, shell.report.path) == "logs/fail_shell.log"
    assert [rel(story, a.path) for a in shell.inputs.all()] == ["results/fail/prep.txt"]
    assert shell.json["missing_outputs"]
    run_rule = job(fl, failed, "fail_run")
    assert run_rule.status == "errored" and run_rule.exit_code == 1
    # the run: block's own traceback, which only the child `python -m snakemake` printed
    assert "ValueError" in run_rule.error and "deliberate failure in run: block" in run_rule.error
    assert "Snakefile" in run_rule.error and "line 114" in run_rule.error, run_rule.error
    assert "Error in rule" not in run_rule.error  # the parent's own lines are left out
    assert "deliberate failure in run: block" in story.steps["failure"].stderr  # still on the console
    assert fl.Artifact.filter(path=str(story.workdir / "results/fail/shell.txt")).one_or_none() is None


def test_conda_environment_file_and_quiet(tmp_path, open_ledger):
    """Snakemake 9 only (8.30 runs `conda info` for jobs of a rule with `conda:` even without --use-conda)."""
    from snakemake_support import clean_env, new_workflow, snakemake9

    workdir = new_workflow(tmp_path / "project")
    db = tmp_path / "ledger.db"
    done = snakemake9().run(workdir, "results/env/info.txt", "--quiet", "all", env=clean_env(FLOWLEDGER_DB=str(db)))
    assert done.returncode == 0, done.stderr
    fl = open_ledger(db)
    (workflow,) = workflow_runs(fl)
    (run,) = jobs_of(fl, workflow)  # --quiet hides jobs from the console, not from the ledger
    assert run.transform.name == "env_info"
    assert run.environment.path == str(workdir / "envs" / "tools.yaml")
    assert run.environment.hash == sha256(workdir / "envs" / "tools.yaml")
    assert run.json["conda_env"] == {"file": str(workdir / "envs" / "tools.yaml")}


@pytest.mark.parametrize("major", [9, 8], ids=["snakemake9", "snakemake8"])
def test_touch_run_records_nothing(major, tmp_path, open_ledger):
    """`--touch` only updates the outputs' times: no job ran, so none is recorded (README)."""
    from snakemake_support import clean_env, new_workflow, snakemake_for

    sm = snakemake_for(major)
    workdir = new_workflow(tmp_path / "project")
    env = clean_env(FLOWLEDGER_DB=str(tmp_path / "ledger.db"))
    assert sm.run(workdir, "results/raw/A.upper.txt", env=env).returncode == 0
    with open(workdir / "data" / "A.txt", "a") as handle:
        handle.write("changed\n")
    touched = sm.run(workdir, "results/raw/A.upper.txt", "--touch", env=env)
    assert touched.returncode == 0, touched.stderr
    assert "make_raw" in touched.stdout + touched.stderr  # Snakemake did consider the job
    fl = open_ledger(tmp_path / "ledger.db")
    assert [r.transform.name for r in fl.Run.filter().order_by("id").all()] == ["project", "make_raw"]
