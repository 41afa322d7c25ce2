"""Live OpenLineage: every recorded run is sent as it starts and ends, from the recorder's thread, when
OpenLineage is configured as every integration is; a consumer that is down is one warning, never a lost
record; unconfigured, nothing listens and nothing is imported."""

import json
import os
import subprocess
import sys
import textwrap
import time

import flowledger as fl
import pytest
from flowledger.default_plugins.openlineage import LiveEmitter
from flowledger.plugin_api import BackgroundRecorder, TransformSpec
from ol_schema import run_event_errors
from receiver import Receiver

PIPELINE = TransformSpec("fl_test.main", type="pipeline", source_code="def main(): ...")
TASK = TransformSpec("fl_test.count", type="task", version="abc123", source_code="def count(x): ...")


def record_workflow(db, root, warn=None, jobs=2) -> tuple[str, list[str], float]:
    """A redun-shaped execution through the BackgroundRecorder; (workflow uid, job uids, seconds the calls took)."""
    (root / "in.txt").write_text("words\n")
    rec = BackgroundRecorder(db, warn=warn)
    began = time.perf_counter()
    workflow = rec.start_run(
        PIPELINE, reference="exec-1", reference_type="redun_id", json={"tags": {"redun.version": "0.44.1"}}
    )
    uids = []
    for n in range(jobs):
        (root / f"out{n}.txt").write_text(f"{n}\n")
        uids.append(
            rec.record_job(
                TASK,
                inputs=[root / "in.txt"],
                outputs=[root / f"out{n}.txt"],
                initiated_by=workflow,
                reference=f"job-{n}",
                reference_type="redun_job_id",
            )
        )
    rec.finish_run(workflow, status="completed")
    spent = time.perf_counter() - began
    assert rec.close(timeout=60)
    return workflow, uids, spent


@pytest.fixture
def clean_openlineage_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("OPENLINEAGE"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no ./openlineage.yml but ours
    monkeypatch.setenv("HOME", str(tmp_path))


def test_runs_are_posted_to_an_http_endpoint_as_they_start_and_end(
    clean_openlineage_env, monkeypatch, flowledger_plugin, ledger_path, tmp_path
):
    with Receiver(delay=0.2) as receiver:
        monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)
        emitter = flowledger_plugin(LiveEmitter(), name="test-live-openlineage")
        workflow, jobs, spent = record_workflow(ledger_path, tmp_path)
        events = receiver.wait_for(6)
    assert spent < 1.0  # the pipeline's calls return at once; the slow consumer costs the recorder's thread
    assert set(receiver.paths) == {"/api/v1/lineage"} and emitter.sent == 6
    assert [run_event_errors(event) for event in events] == [[]] * 6
    kinds = [(e["run"]["facets"]["flowledger_status"]["uid"], e["eventType"]) for e in events]
    assert kinds[0] == (workflow, "START") and kinds[-1] == (workflow, "COMPLETE")
    assert sorted(kinds[1:-1]) == sorted([(uid, kind) for uid in jobs for kind in ("START", "COMPLETE")])
    exported = [json.loads(line) for line in fl.exporting.export(workflow, "openlineage").splitlines()]
    assert {e["run"]["runId"] for e in events} == {e["run"]["runId"] for e in exported}  # live and export agree
    job_end = next(
        e for e in events if e["eventType"] == "COMPLETE" and e["run"]["facets"]["flowledger_status"]["uid"] == jobs[0]
    )
    assert job_end["job"] == {
        **job_end["job"],
        "namespace": job_end["job"]["namespace"],
        "name": "fl_test.main.fl_test.count",
    }
    assert job_end["run"]["facets"]["processing_engine"]["version"] == "0.44.1"
    assert job_end["run"]["facets"]["parent"]["run"]["runId"] == events[0]["run"]["runId"]
    assert job_end["run"]["facets"]["tags"]  # the client's own facet: it went through OpenLineageClient.emit
    assert [o["name"] for o in job_end["outputs"]] == [str(tmp_path / "out0.txt")]


def test_the_file_transport_writes_json_lines(
    clean_openlineage_env, monkeypatch, flowledger_plugin, ledger_path, tmp_path
):
    log = tmp_path / "ol-events.jsonl"
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "file")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", str(log))
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__APPEND", "true")
    flowledger_plugin(LiveEmitter(), name="test-live-openlineage")
    record_workflow(ledger_path, tmp_path, jobs=1)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "START", "COMPLETE", "COMPLETE"]
    assert all(run_event_errors(e) == [] for e in events)


def test_an_unreachable_endpoint_is_one_warning_and_loses_no_record(
    clean_openlineage_env, monkeypatch, flowledger_plugin, ledger_path, tmp_path
):
    with Receiver() as receiver:  # a port that was just free, and is closed again
        closed = receiver.url
    config = tmp_path / "openlineage.yml"
    config.write_text(f"transport:\n  type: http\n  url: {closed}\n  timeout: 1\n  retry:\n    total: 0\n")
    monkeypatch.setenv("OPENLINEAGE_CONFIG", str(config))
    warnings = []
    emitter = flowledger_plugin(LiveEmitter(warn=fl.plugin_api.WarnOnce(warnings.append)), name="test-live-openlineage")
    workflow, jobs, _ = record_workflow(ledger_path, tmp_path, jobs=5)
    assert (
        len(warnings) == 1 and "could not send OpenLineage events" in warnings[0] and "ConnectionError" in warnings[0]
    )
    assert emitter.sent == 0
    run = fl.Run.get(workflow)
    assert run.status == "completed" and sorted(r.uid for r in run.children) == sorted(jobs)


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINEAGE")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env={**base, **env}, timeout=120
    )


def test_configured_by_environment_every_plugins_recorder_sends(ledger_path, tmp_path):
    """In a fresh process with OPENLINEAGE_URL set, the built-in plugin listens by itself."""
    code = f"""
        from flowledger.plugin_api import TransformSpec, open_recorder
        rec = open_recorder({str(ledger_path)!r})
        wf = rec.start_run(TransformSpec("variant-calling"), reference="wf-1", reference_type="snakemake_id",
                           json={{"snakemake_version": "9.27.1"}})
        rec.record_job(TransformSpec("upper", type="rule"), initiated_by=wf, reference="wf-1/1",
                       reference_type="snakemake_job")
        rec.finish_run(wf)
        assert rec.close(timeout=60)
    """
    with Receiver() as receiver:
        done = run_python(code, OPENLINEAGE_URL=receiver.url, HOME=str(tmp_path))
        events = receiver.wait_for(4)
    assert done.returncode == 0, done.stderr
    assert [e["eventType"] for e in events] == ["START", "START", "COMPLETE", "COMPLETE"]
    assert {e["run"]["facets"]["processing_engine"]["name"] for e in events} == {"snakemake"}


def test_unconfigured_nothing_listens_and_nothing_is_imported(tmp_path):
    done = run_python(
        """
        import sys
        import flowledger
        from flowledger import announce
        from flowledger.plugins import load_plugins
        load_plugins()
        import flowledger.default_plugins.openlineage as live
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("openlineage", "prov", "rocrate", "rdflib"))
        print(live.LIVE, hasattr(live, "run_started"), announce.listeners(), heavy)
        """,
        HOME=str(tmp_path),
    )
    assert done.stdout.split() == ["None", "False", "False", "[]"], done.stderr
    importtime = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import flowledger"], capture_output=True, text=True, timeout=120
    )
    assert not [
        line
        for line in importtime.stderr.splitlines()
        if any(name in line.lower() for name in ("openlineage", "prov", "rocrate"))
    ]


def test_disabled_by_openlineage_disabled(tmp_path):
    done = run_python(
        "import flowledger.default_plugins.openlineage as m; print(m.configured())",
        OPENLINEAGE_URL="http://127.0.0.1:9",
        OPENLINEAGE_DISABLED="true",
        HOME=str(tmp_path),
    )
    assert done.stdout.strip() == "False"
