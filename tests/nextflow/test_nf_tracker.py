"""The plugin's shape: a pure mapping, one Tracker writing through any RecorderAPI (here a fake that keeps
typed calls), one table for the onComplete hook's arguments, and `--db` wherever a command records."""

import contextlib
import re
from contextlib import AbstractContextManager

import nf_samples
from click.testing import CliRunner
from flowledger.models import Run
from flowledger.plugin_api import (
    Call,
    CallRecorder,
    FinishRun,
    RecordJob,
    RunInfo,
    RunStatus,
    StartRun,
)
from flowledger.store import get_ledger
from flowledger.testing import recorder_api_mismatches
from flowledger_nextflow.commands import import_command
from flowledger_nextflow.config import config_text
from flowledger_nextflow.events import parse_event
from flowledger_nextflow.facts import RunFacts
from flowledger_nextflow.mapping import HOOK_ARGS, run_uid, task_job, task_start, task_uid
from flowledger_nextflow.stream import EventStream
from flowledger_nextflow.task import Task
from flowledger_nextflow.workdir import TaskFiles


class KeepingRecorder(CallRecorder):
    """A fake RecorderAPI: keeps the typed calls it is given and answers the read-backs from them."""

    def __init__(self):
        self.calls = []

    def submit(self, call: Call) -> None:
        self.calls.append(call)

    def find_run(self, *, reference: str, reference_type: str) -> str | None:
        found = [
            c.uid
            for c in self.calls
            if isinstance(c, (StartRun, RecordJob)) and (c.reference, c.reference_type) == (reference, reference_type)
        ]
        return found[-1] if found else None

    def get_run(self, uid: str) -> RunInfo | None:
        made = next((c for c in self.calls if isinstance(c, (StartRun, RecordJob)) and c.uid == uid), None)
        if made is None:
            return None
        status = [c.status for c in self.calls if isinstance(c, (StartRun, RecordJob, FinishRun)) and c.uid == uid]
        return RunInfo(
            uid,
            RunStatus(status[-1]),
            made.transform.name,
            made.reference,
            made.reference_type,
            made.initiated_by,
            None,
            None,
        )

    def runs_under(self, uid: str) -> list[RunInfo]:
        return [
            self.get_run(c.uid) for c in self.calls if isinstance(c, (StartRun, RecordJob)) and c.initiated_by == uid
        ]

    def batch(self) -> AbstractContextManager[object]:
        return contextlib.nullcontext()

    def close(self, timeout: float | None = None) -> bool:
        return True


def test_the_fake_keeps_to_the_contract():
    assert recorder_api_mismatches(KeepingRecorder) == []


def test_mapping_is_pure_and_gives_typed_calls():
    """No file is read: what the work dir said comes in as TaskFiles."""
    facts = RunFacts(run_name="x", session_id="s", pipeline_name="demo", pipeline_version="1")
    task = Task(
        task_id=3,
        name="COUNT (s3)",
        status="FAILED",
        hash="8c/a25c6b",
        exit=1,
        workdir="/nowhere/8c/a25c6bf3a0dc8cae4d1169f97fe9da",
    )
    job = task_job(facts, task, TaskFiles(error="ERROR: empty input\n", script="wc -l x"))
    assert isinstance(job, RecordJob) and job.status is RunStatus.ERRORED and job.error == "ERROR: empty input"
    assert (job.uid, job.initiated_by) == (task_uid(facts, task), run_uid(facts))
    assert (job.transform.name, job.transform.type, job.transform.version) == ("demo:COUNT", "process", "1")
    assert job.json["script"] == "wc -l x" and job.json["hash"] == "8ca25c6bf3a0dc8cae4d1169f97fe9da"
    assert job.inputs == () and job.outputs == ()
    started = task_start(job)
    assert isinstance(started, StartRun) and started.status is RunStatus.STARTED and started.uid == job.uid


def test_live_stream_through_a_fake_recorder(launch_dir):
    """The tracker writes typed calls through any RecorderAPI, and a replay adds none."""
    fake = KeepingRecorder()
    stream = EventStream(fake, warn=lambda message: None)
    bodies = nf_samples.weblog_bodies(nf_samples.OK, launch_dir)
    for body in bodies:
        stream.handle(parse_event(body))
    workflow = fake.calls[0]
    assert isinstance(workflow, StartRun) and workflow.reference == nf_samples.OK
    starts = [c for c in fake.calls[1:] if isinstance(c, StartRun)]
    ends = [c for c in fake.calls if isinstance(c, FinishRun) and c.uid != workflow.uid]
    assert len(starts) == 7 and sorted(c.uid for c in ends) == sorted(c.uid for c in starts)
    assert {c.status for c in ends} == {RunStatus.COMPLETED}
    assert [c.status for c in fake.calls if isinstance(c, FinishRun) and c.uid == workflow.uid] == [RunStatus.COMPLETED]
    merge = fake.get_run(next(c.uid for c in starts if c.reference == "41/1d96d1"))
    assert merge.status is RunStatus.COMPLETED and merge.initiated_by == workflow.uid
    before = len([c for c in fake.calls if isinstance(c, (StartRun, RecordJob))])
    for body in bodies:
        stream.handle(parse_event(body))
    assert len([c for c in fake.calls if isinstance(c, (StartRun, RecordJob))]) == before


def test_the_hook_arguments_come_from_one_table():
    """The handler passes every HOOK_ARGS entry, and `flowledger nextflow import` takes each of them."""
    text = config_text()
    passed = re.findall(r'"(--[\w-]+)=\$\{fl \{ ([\w.]+) \}\}"', text)
    assert passed == [(a.option, a.expression) for a in HOOK_ARGS if a.option]
    assert '"${fl { workflow.launchDir }}"' in text
    taken = {opt for param in import_command.params for opt in param.opts}
    assert {a.option for a in HOOK_ARGS if a.option} <= taken


def test_db_before_or_after_the_import_command(launch_dir, tmp_path, ledger_path):
    from flowledger.cli import cli

    before, after = tmp_path / "before.db", tmp_path / "after.db"
    result = CliRunner().invoke(
        cli, ["--db", str(before), "nextflow", "import", str(launch_dir), "--run", nf_samples.OK]
    )
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        cli, ["nextflow", "import", str(launch_dir), "--run", nf_samples.FAIL, "--db", str(after)]
    )
    assert result.exit_code == 0, result.output
    assert [r.reference for r in Run.using(get_ledger(before)).filter(reference_type="nextflow_id").all()] == [
        nf_samples.OK
    ]
    assert [r.reference for r in Run.using(get_ledger(after)).filter(reference_type="nextflow_id").all()] == [
        nf_samples.FAIL
    ]
    assert not ledger_path.exists() or not Run.filter().all()  # the default ledger got nothing


def test_config_embeds_the_db_it_got(tmp_path, monkeypatch):
    from flowledger.cli import cli

    monkeypatch.chdir(tmp_path)
    for args in (
        ["--db", "rel/x.db", "nextflow", "config", "--print"],
        ["nextflow", "config", "--print", "--db", "rel/x.db"],
    ):
        text = CliRunner().invoke(cli, args).output
        assert f"'import', '--db', '{tmp_path / 'rel' / 'x.db'}'" in text
    assert "'--db'" not in CliRunner().invoke(cli, ["nextflow", "config", "--print"]).output
    path = CliRunner().invoke(cli, ["--db", "rel/x.db", "nextflow", "config"]).output.strip()
    assert path.startswith(str(tmp_path / "rel" / "nextflow")) and f"'{tmp_path / 'rel' / 'x.db'}'" in open(path).read()
