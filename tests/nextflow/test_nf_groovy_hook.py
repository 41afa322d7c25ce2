"""The generated `workflow.onComplete` handler, run on a real JVM: Debian's `groovy` parses the generated
config with `ConfigSlurper` (Nextflow configs are Groovy config scripts), takes the closure, and calls it
the way Nextflow's `WorkflowMetadata` does (a clone, delegate = the script binding holding `workflow`,
DELEGATE_FIRST), with a `workflow` object carrying the fields Nextflow sets in onComplete.

One groovy process runs every case (the JVM starts slowly); each case prints one JSON line."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nf_samples
import pytest
from flowledger.models import Run
from flowledger_nextflow.config import config_text

GROOVY = shutil.which("groovy")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(GROOVY is None, reason="groovy is not installed")]

# Nextflow's WorkflowMetadata as the handler sees it: `OldWorkflow` is a Nextflow without `outputDir`
# (a missing property throws MissingPropertyException, as it would on an older WorkflowMetadata).
RUNNER = r"""
import groovy.json.JsonOutput
import groovy.json.JsonSlurper
import java.nio.file.Path
import java.nio.file.Paths

class Manifest { String name; String version }
class NextflowMeta { String version }
class OldWorkflow {
    Path launchDir; String runName; UUID sessionId; Path workDir; boolean success; Integer exitStatus
    String errorMessage; Manifest manifest; NextflowMeta nextflow; String commandLine; String profile
    String revision; String commitId; String repository; String scriptId
}
class NewWorkflow extends OldWorkflow { Path outputDir }

def realOut = System.out, realErr = System.err
for (c in new JsonSlurper().parse(new File(args[0]))) {
    def f = c.fields
    def wf = c.kind == 'new' ? new NewWorkflow(outputDir: Paths.get(f.outputDir)) : new OldWorkflow()
    wf.launchDir = Paths.get(f.launchDir); wf.runName = f.runName; wf.sessionId = UUID.fromString(f.sessionId)
    wf.workDir = Paths.get(f.workDir); wf.success = f.success; wf.exitStatus = f.exitStatus
    wf.errorMessage = f.errorMessage; wf.manifest = new Manifest(name: f.pipelineName, version: f.pipelineVersion)
    wf.nextflow = new NextflowMeta(version: '26.04.6'); wf.commandLine = f.commandLine; wf.profile = 'standard'
    wf.scriptId = f.scriptId
    def handler = new ConfigSlurper().parse(new File(c.config).toURI().toURL()).workflow.onComplete
    def action = (Closure) handler.clone()
    action.delegate = [workflow: wf]
    action.resolveStrategy = Closure.DELEGATE_FIRST
    def out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream()
    System.setOut(new PrintStream(out, true)); System.setErr(new PrintStream(err, true))
    def thrown = null
    long began = System.nanoTime()
    try { action.call() } catch (Throwable e) { thrown = e.toString() }
    finally { System.setOut(realOut); System.setErr(realErr) }
    realOut.println(JsonOutput.toJson([name: c.name, thrown: thrown, seconds: (System.nanoTime() - began) / 1e9,
                                       stdout: out.toString(), stderr: err.toString()]))
}
"""


def _java_env() -> dict:
    """Debian's groovy wants JAVA_HOME (or /usr/lib/jvm/default-java); point it at the `java` on PATH."""
    env = os.environ.copy()
    java_home = env.get("JAVA_HOME")
    usable = java_home and os.path.exists(os.path.join(java_home, "bin", "java"))
    if not usable and not os.path.exists("/usr/lib/jvm/default-java/bin/java") and shutil.which("java"):
        env["JAVA_HOME"] = str(Path(os.path.realpath(shutil.which("java"))).parent.parent)
    return env


def _fields(launch: Path, run_name: str) -> dict:
    ok = run_name == nf_samples.OK
    return {
        "launchDir": str(launch),
        "runName": run_name,
        "sessionId": nf_samples.SESSIONS[run_name],
        "workDir": str(launch / "work"),
        "outputDir": str(launch / "results"),
        "success": ok,
        "exitStatus": 0 if ok else 1,
        "errorMessage": None if ok else "Process `COUNT (s3)` terminated with an error exit status (1)",
        "pipelineName": "lineage-demo",
        "pipelineVersion": "1.0.0",
        "commandLine": "nextflow run main.nf -with-trace" + ("" if ok else " --reads 'data_bad/*.fastq'"),
        "scriptId": "6dff7986e1e2fc7cb7aadfa506603aad",
    }


def _run_cases(tmp_path: Path, cases: list[dict]) -> dict[str, dict]:
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    (tmp_path / "runner.groovy").write_text(RUNNER)
    done = subprocess.run(
        [GROOVY, str(tmp_path / "runner.groovy"), str(tmp_path / "cases.json")],
        capture_output=True,
        text=True,
        timeout=240,
        env=_java_env(),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(cases), done.stdout + done.stderr
    return {r["name"]: r for r in results}


def _config(tmp_path: Path, name: str, **kwargs) -> str:
    path = tmp_path / f"{name}.config"
    path.write_text(config_text(**kwargs))
    return str(path)


def test_generated_on_complete_runs_on_a_jvm(tmp_path, ledger_path):
    launch = nf_samples.build_both(tmp_path / "lineage-demo")
    py = sys.executable
    hook = _config(tmp_path, "hook", db=ledger_path)
    cases = [
        # a current Nextflow, successful run: every field passed, the run recorded
        {"name": "new", "kind": "new", "config": hook, "fields": _fields(launch, nf_samples.OK)},
        # a Nextflow without workflow.outputDir, failed run: the missing field loses only itself
        {"name": "old", "kind": "old", "config": hook, "fields": _fields(launch, nf_samples.FAIL)},
        # flowledger not there (not on PATH / uninstalled): one warning, the handler returns
        {
            "name": "missing",
            "kind": "new",
            "config": _config(tmp_path, "missing", command=[str(tmp_path / "no-such-flowledger"), "import"]),
            "fields": _fields(launch, nf_samples.OK),
        },
        # the importer crashes: one warning with its status
        {
            "name": "fails",
            "kind": "new",
            "config": _config(tmp_path, "fails", command=[py, "-c", "import sys; sys.exit(3)"]),
            "fields": _fields(launch, nf_samples.OK),
        },
        # the importer hangs: stopped after the time limit, so Nextflow ends
        {
            "name": "hangs",
            "kind": "new",
            "config": _config(tmp_path, "hangs", command=[py, "-c", "import time; time.sleep(120)"], hook_timeout=2),
            "fields": _fields(launch, nf_samples.OK),
        },
    ]
    results = _run_cases(tmp_path, cases)

    assert all(r["thrown"] is None for r in results.values()), results  # Nextflow's exit status unchanged

    new = results["new"]
    assert "WARNING" not in new["stderr"] and f"{nf_samples.OK}: " in new["stderr"], new
    run = Run.filter(reference=nf_samples.OK, reference_type="nextflow_id").one()
    assert run.status == "completed" and run.transform.name == "lineage-demo" and run.transform.version == "1.0.0"
    assert run.json["session_id"] == nf_samples.SESSIONS[nf_samples.OK]
    assert run.json["output_dir"] == str(launch / "results") and run.json["launch_dir"] == str(launch)
    assert run.json["nextflow_version"] == "26.04.6" and run.json["profile"] == "standard"
    assert run.json["command_line"] == "nextflow run main.nf -with-trace"
    assert Run.filter(initiated_by_run=run).count() == 7

    old = results["old"]
    assert "WARNING" not in old["stderr"], old
    failed = Run.filter(reference=nf_samples.FAIL, reference_type="nextflow_id").one()
    assert failed.status == "errored" and failed.exit_code == 1 and "output_dir" not in failed.json
    assert failed.json["error_message"].startswith("Process `COUNT (s3)`") and failed.json["success"] is False

    reasons = {"missing": "no-such-flowledger", "fails": "exited with status 3", "hangs": "took longer"}
    for name, reason in reasons.items():
        stderr = results[name]["stderr"]
        assert stderr.count("WARNING") == 1 and reason in stderr and "\tat " not in stderr, (name, stderr)
    assert results["hangs"]["seconds"] < 30


def test_generated_on_complete_records_into_postgresql(tmp_path, ledger_path, postgres_ledgers, monkeypatch):
    """The handler of `config_text(db=URL)` passes a PostgreSQL URL (with its `?host=...&port=...`) to the
    importer as it is: the run lands in the server's ledger, not in FLOWLEDGER_DB's file."""
    from flowledger.store import forget_ledgers

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))  # the server ledger's local folder
    url = postgres_ledgers.fresh()
    launch = nf_samples.build_both(tmp_path / "lineage-demo")
    hook = _config(tmp_path, "hook", db=url)
    assert f"'--db', '{url}'" in Path(hook).read_text()
    cases = [
        {"name": name, "kind": "new", "config": hook, "fields": _fields(launch, name)}
        for name in (nf_samples.OK, nf_samples.FAIL)
    ]
    results = _run_cases(tmp_path, cases)
    assert all(r["thrown"] is None and "WARNING" not in r["stderr"] for r in results.values()), results
    assert not ledger_path.exists()

    monkeypatch.setenv("FLOWLEDGER_DB", url)
    forget_ledgers()
    run = Run.filter(reference=nf_samples.OK, reference_type="nextflow_id").one()
    assert run.status == "completed" and run.json["session_id"] == nf_samples.SESSIONS[nf_samples.OK]
    tasks = Run.filter(initiated_by_run=run).all()
    assert len(tasks) == 7 and {t.status for t in tasks} == {"completed"}
    failed = Run.filter(reference=nf_samples.FAIL, reference_type="nextflow_id").one()
    assert failed.status == "errored" and failed.exit_code == 1
    assert sorted(t.status for t in Run.filter(initiated_by_run=failed)) == ["completed"] * 5 + ["errored"]
