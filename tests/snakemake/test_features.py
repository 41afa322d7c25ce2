"""Snakemake features end to end, on real Snakemake 9 and 8, checked against `--detailed-summary`:
temp() outputs, a locked ledger, pipe() outputs, annotated paths, `--quiet`, the workflow's name."""

from __future__ import annotations

import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from snakemake_support import clean_env, snakemake_for

pytestmark = pytest.mark.slow

BOTH = [pytest.param(9, id="snakemake9"), pytest.param(8, id="snakemake8")]


def make_workflow(where: Path, snakefile: str, **files: str) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    (where / "Snakefile").write_text(textwrap.dedent(snakefile))
    for name, text in files.items():
        (where / name.replace("__", "/")).parent.mkdir(parents=True, exist_ok=True)
        (where / name.replace("__", "/")).write_text(text)
    return where


def run(major: int, workdir: Path, db: Path, *args: str, extra_env: dict | None = None, timeout: float = 300):
    """Snakemake with the plugin recording into `db` (9: the option; 8: the setting's variable)."""
    sm = snakemake_for(major)
    env = clean_env(**(extra_env or {}))
    if major < 9:
        env["SNAKEMAKE_LOGGER_FLOWLEDGER_DB"] = str(db)
    return sm.run(workdir, *args, db=db if major >= 9 else None, env=env, timeout=timeout)


def summary(major: int, workdir: Path, *targets: str) -> list[dict]:
    return snakemake_for(major).detailed_summary(workdir, *targets, env=clean_env())


def job_runs(fl):
    return fl.Run.filter(reference_type="snakemake_job").order_by("id").all()


def the_job(fl, rule: str):
    (found,) = [r for r in job_runs(fl) if r.transform.name == rule]
    return found


def paths(artifacts) -> list[str]:
    return sorted(a.path for a in artifacts)


# ---- temp() -------------------------------------------------------------------------------------
TEMP_SNAKEFILE = """
rule all:
    input: "x.both"

rule upper:
    input: "x.txt"
    output: up="x.up", rev=temp("x.rev")
    shell: "tr a-z A-Z < {input} > {output.up}; rev {input} > {output.rev}"

rule combine:
    input: "x.up", "x.rev"
    output: "x.both"
    shell: "cat {input} > {output}"
"""


@pytest.mark.parametrize("major", BOTH)
def test_temp_output_is_a_deleted_node_between_producer_and_consumer(major, tmp_path, open_ledger):
    """issue 9.1: a temp() output, deleted by Snakemake once `combine` is done, stays in the lineage."""
    work = make_workflow(tmp_path / "wf", TEMP_SNAKEFILE, **{"x.txt": "hello\nworld\n"})
    db = tmp_path / "ledger.db"
    done = run(major, work, db)
    assert done.returncode == 0, done.stderr
    assert not (work / "x.rev").exists()  # Snakemake deleted it
    assert "WARNING: flowledger" not in done.stderr, done.stderr
    rows = {row["output_file"]: row for row in summary(major, work)}
    assert rows["x.both"]["rule"] == "combine"
    assert sorted(rows["x.both"]["input-file(s)"].split(",")) == ["x.rev", "x.up"]
    assert rows["x.up"]["rule"] == "upper"

    fl = open_ledger(db)
    upper, combine = the_job(fl, "upper"), the_job(fl, "combine")
    assert upper.status == combine.status == "completed"
    rev = str(work / "x.rev")
    assert paths(upper.outputs.all()) == sorted([str(work / "x.up"), rev])
    assert paths(combine.inputs.all()) == sorted([str(work / "x.up"), rev])
    (node,) = [a for a in combine.inputs.all() if a.path == rev]
    assert node.run_id == upper.id and node.state == "deleted"
    assert node.hash  # hashed before Snakemake deleted it
    assert upper.json["flags"] == {rev: ["temp"]}
    assert "missing_outputs" not in upper.json and "missing_inputs" not in combine.json

    graph = fl.lineage.ancestors(fl.Artifact.filter(path=str(work / "x.both")).one())
    reached = {a.path for a in graph.artifacts.values()}
    assert {rev, str(work / "x.up"), str(work / "x.txt")} <= reached
    sources = {(s, t) for s, t in graph.edges}
    x_txt = fl.Artifact.filter(path=str(work / "x.txt")).one().id
    assert (("artifact", x_txt), ("run", upper.id)) in sources
    assert (("run", upper.id), ("artifact", node.id)) in sources
    assert (("artifact", node.id), ("run", combine.id)) in sources


# ---- a locked ledger, a FIFO output --------------------------------------------------------------
SMALL_SNAKEFILE = """
rule all:
    input: "a.out"

rule copy:
    input: "a.txt"
    output: "a.out"
    shell: "cp {input} {output}"
"""

LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def flowledger_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "flowledger could not record" in line]


def wait_option(major: int, seconds: float) -> tuple[tuple[str, ...], dict]:
    """The plugin's `wait` setting: an option for Snakemake 9, its environment variable for 8."""
    if major >= 9:
        return ("--logger-flowledger-wait", str(seconds)), {}
    return (), {"SNAKEMAKE_LOGGER_FLOWLEDGER_WAIT": str(seconds)}


def timed(major, work, db, *args, **kwargs):
    began = time.monotonic()
    done = run(major, work, db, *args, **kwargs)
    return done, time.monotonic() - began


@pytest.mark.parametrize("major", BOTH)
def test_a_locked_ledger_delays_the_end_by_the_configured_wait_only(major, tmp_path):
    """issue 10.4: another process holds the ledger's write lock for the whole run."""
    import sys

    from flowledger.plugin_api import Recorder

    db = tmp_path / "ledger.db"
    Recorder(db).close()  # an existing, initialised ledger
    baseline_dir = make_workflow(tmp_path / "baseline", SMALL_SNAKEFILE, **{"a.txt": "a\n"})
    began = time.monotonic()
    base = subprocess.run(
        snakemake_for(major).command(record=False), cwd=baseline_dir, env=clean_env(), capture_output=True, timeout=300
    )
    assert base.returncode == 0
    baseline = time.monotonic() - began  # (a rough figure: the machine is shared)

    work = make_workflow(tmp_path / "wf", SMALL_SNAKEFILE, **{"a.txt": "a\n"})
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db), "120"], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        args, env = wait_option(major, 2)
        done, took = timed(major, work, db, *args, extra_env=env)
        print(f"Snakemake {major}: {took:.1f} s with the ledger locked, {baseline:.1f} s without recording")
    finally:
        locker.kill()
        locker.wait()
    assert done.returncode == 0, done.stderr
    assert (work / "a.out").read_text() == "a\n"
    warnings = flowledger_warnings(done.stderr)
    assert len(warnings) == 1, done.stderr
    assert str(db) in warnings[0]
    assert took < baseline + 2 + 15, (took, baseline)  # not 300 s: the wait, plus a loaded machine's slack


PIPE_SNAKEFILE = """
rule all:
    input: "x.out"

rule produce:
    output: pipe("x.pipe")
    shell: "printf 'hello\\\\n' > {output}"

rule consume:
    input: "x.pipe"
    output: "x.out"
    shell: "cat {input} > {output}"
"""


@pytest.mark.parametrize("major", BOTH)
def test_pipe_output_is_a_fifo_between_producer_and_consumer(major, tmp_path, open_ledger):
    """issues 10.4 and 9.6: a pipe() output is recorded without being opened, under its real path, as the
    producer's output and the consumer's input (producer -> pipe -> consumer is one lineage); Snakemake's
    exit is not delayed."""
    work = make_workflow(tmp_path / "wf", PIPE_SNAKEFILE)
    db = tmp_path / "ledger.db"
    args, env = wait_option(major, 2)
    done, took = timed(major, work, db, *args, extra_env=env)
    assert done.returncode == 0, done.stderr
    assert not flowledger_warnings(done.stderr), done.stderr
    assert took < 120
    assert (work / "x.out").read_text() == "hello\n"
    rows = {row["output_file"]: row for row in summary(major, work)}
    assert rows["x.out"]["rule"] == "consume" and rows["x.out"]["input-file(s)"] == "x.pipe"

    fl = open_ledger(db)
    produce, consume = the_job(fl, "produce"), the_job(fl, "consume")
    assert produce.status == consume.status == "completed"
    fifo = str(work / "x.pipe")
    # Snakemake removes the FIFO when the group ends, before either job's end is logged: it is recorded
    # under its real path (not "x.pipe (pipe)"), with its flag, as gone, and never opened (no hash)
    assert produce.json["flags"] == {fifo: ["pipe"]}
    pipe = fl.Artifact.filter(path=fifo).one()
    assert (pipe.state, pipe.hash) == ("deleted", None)
    assert paths(produce.outputs.all()) == [fifo] and paths(consume.inputs.all()) == [fifo]
    assert not any("(pipe)" in a.path for a in fl.Artifact.filter().all())
    assert not any("missing_inputs" in run.json or "missing_outputs" in run.json for run in job_runs(fl))
    assert paths(consume.outputs.all()) == [str(work / "x.out")]
    out = fl.Artifact.filter(path=str(work / "x.out")).one()
    assert {run.uid for run in fl.lineage.ancestors(out).runs.values()} >= {produce.uid, consume.uid}  # one lineage
    assert produce.json["group"]["name"] and produce.json["group"] == consume.json["group"]


SERVICE_SNAKEFILE = """
rule all:
    input: "a.out"

rule serve:
    output: service("db.socket")
    shell: "python3 serve.py {output}"

rule ask:
    input: "db.socket"
    output: "{name}.out"
    shell: "python3 ask.py {input} {wildcards.name} > {output}"
"""
SERVE = """
import socket, sys
server = socket.socket(socket.AF_UNIX)
server.bind(sys.argv[1])
server.listen()
while True:  # until Snakemake stops the service, once its consumers are done
    conn, _ = server.accept()
    conn.sendall(b"hello " + conn.recv(100))
    conn.close()
"""
ASK = """
import socket, sys, time
for _ in range(100):  # the service may still be starting
    try:
        client = socket.socket(socket.AF_UNIX)
        client.connect(sys.argv[1])
        break
    except OSError:
        time.sleep(0.1)
client.sendall(sys.argv[2].encode())
print(client.recv(100).decode())
"""


@pytest.mark.parametrize("major", BOTH)
def test_service_output_is_a_socket_between_server_and_clients(major, tmp_path, open_ledger):
    """issue 9.6: a service() output (a socket) is recorded without being opened, under its real path, as
    the server job's output and each client's input: server -> socket -> clients is one lineage."""
    work = make_workflow(tmp_path / "wf", SERVICE_SNAKEFILE, **{"serve.py": SERVE, "ask.py": ASK})
    db = tmp_path / "ledger.db"
    done = run(major, work, db, timeout=180)
    assert done.returncode == 0, done.stderr
    assert not flowledger_warnings(done.stderr), done.stderr
    assert (work / "a.out").read_text() == "hello a\n"
    rows = {row["output_file"]: row for row in summary(major, work, "a.out")}
    assert rows["a.out"]["rule"] == "ask" and rows["a.out"]["input-file(s)"] == "db.socket"

    fl = open_ledger(db)
    serve = the_job(fl, "serve")
    clients = [r for r in job_runs(fl) if r.transform.name == "ask"]
    assert len(clients) == 1 and serve.status == clients[0].status == "completed"  # (a group: a core each)
    socket_path = str(work / "db.socket")
    assert serve.json["flags"] == {socket_path: ["service"]}
    node = fl.Artifact.filter(path=socket_path).one()
    assert node.hash is None and node.kind in ("socket", "file")  # never opened (a socket, or gone by then)
    assert paths(serve.outputs.all()) == [socket_path]
    assert all(paths(c.inputs.all()) == [socket_path] for c in clients)
    assert not any("(service)" in a.path for a in fl.Artifact.filter().all())
    out = fl.Artifact.filter(path=str(work / "a.out")).one()
    assert serve.uid in {run.uid for run in fl.lineage.ancestors(out).runs.values()}


# ---- --quiet, the workflow's name ----------------------------------------------------------------
@pytest.mark.parametrize(
    "major,quiet",
    [
        pytest.param(9, ("--quiet",), id="snakemake9-q"),
        pytest.param(9, ("--quiet", "progress"), id="snakemake9-progress"),
        pytest.param(9, ("--quiet", "all"), id="snakemake9-all"),
        pytest.param(8, ("--quiet", "progress"), id="snakemake8-progress"),
    ],
)
def test_quiet_records_the_same_statuses(major, quiet, tmp_path, open_ledger):
    """issue 9.6: `--quiet` drops job_finished (Snakemake 9): the jobs still completed. The workflow is
    named by `config["name"]` here."""
    work = make_workflow(tmp_path / "wf", TEMP_SNAKEFILE, **{"x.txt": "hello\nworld\n"})
    db = tmp_path / "ledger.db"
    done = run(major, work, db, *quiet, "--config", "name=quiet-flow")
    assert done.returncode == 0, done.stderr
    assert not flowledger_warnings(done.stderr), done.stderr
    fl = open_ledger(db)
    (workflow,) = fl.Run.filter(reference_type="snakemake_id").all()
    assert workflow.status == "completed" and workflow.transform.name == "quiet-flow"
    assert {r.transform.name: r.status for r in job_runs(fl)} == dict.fromkeys(("upper", "combine", "all"), "completed")
    upper, combine = the_job(fl, "upper"), the_job(fl, "combine")
    (node,) = [a for a in combine.inputs.all() if a.path == str(work / "x.rev")]
    assert node.run_id == upper.id and node.state == "deleted"
    assert upper.finished_at <= combine.finished_at


# ---- a symlinked folder ------------------------------------------------------------------------
LINK_SNAKEFILE = """
rule via_link:
    input: "a.txt"
    output: "link/out.txt"
    shell: "cp {input} {output}"

rule via_real:
    input: "a.txt"
    output: "real/back.txt"
    shell: "rev {input} > {output}"

rule read_real:
    input: "real/out.txt"
    output: "read_real.txt"
    shell: "cp {input} {output}"

rule read_link:
    input: "link/back.txt"
    output: "read_link.txt"
    shell: "cp {input} {output}"
"""


@pytest.mark.parametrize("major", BOTH)
def test_a_file_written_through_a_symlinked_folder_is_one_artifact(major, tmp_path, open_ledger):
    """issue 9.2: written through `link/`, read through `real/` (and the other way round): one node each."""
    work = make_workflow(tmp_path / "wf", LINK_SNAKEFILE, **{"a.txt": "abc\n"})
    (work / "real").mkdir()
    (work / "link").symlink_to("real", target_is_directory=True)
    db = tmp_path / "ledger.db"
    first = run(major, work, db, "link/out.txt", "real/back.txt")
    assert first.returncode == 0, first.stderr
    second = run(major, work, db, "read_real.txt", "read_link.txt")
    assert second.returncode == 0, second.stderr
    rows = {row["output_file"]: row for row in summary(major, work, "read_real.txt", "read_link.txt")}
    assert rows["read_real.txt"]["input-file(s)"] == "real/out.txt"
    assert rows["read_link.txt"]["input-file(s)"] == "link/back.txt"

    fl = open_ledger(db)
    for writer, reader, written, read in (
        ("via_link", "read_real", "link/out.txt", "real/out.txt"),
        ("via_real", "read_link", "real/back.txt", "link/back.txt"),
    ):
        made, used = the_job(fl, writer), the_job(fl, reader)
        (output,) = made.outputs.all()
        (input_,) = used.inputs.all()
        assert input_.id == output.id and input_.run_id == made.id, (written, read)
        assert output.path == str(work / "real" / Path(written).name)  # the folder's symlink resolved
    assert not any("/link/" in a.path for a in fl.Artifact.filter().all())  # one node per file, by its real path


# ---- stopped by a signal -----------------------------------------------------------------------
SLOW_SNAKEFILE = """
rule all:
    input: "x.out"

rule slow:
    output: "x.out"
    shell: "touch started; sleep {config[sleep]}; touch {output}"
"""


@pytest.mark.parametrize(
    "major,signum",
    [
        pytest.param(9, "SIGTERM", id="snakemake9-SIGTERM"),
        pytest.param(9, "SIGINT", id="snakemake9-SIGINT"),
        pytest.param(8, "SIGTERM", id="snakemake8-SIGTERM"),
        pytest.param(8, "SIGINT", id="snakemake8-SIGINT"),
    ],
)
def test_a_signal_aborts_the_workflow_run(major, signum, tmp_path, open_ledger):
    """issue 9.6: SIGTERM (Snakemake lets running jobs finish) and SIGINT (it kills them) record the workflow
    run `aborted`, and a killed job `aborted`, never `errored`."""
    import signal

    work = make_workflow(tmp_path / "wf", SLOW_SNAKEFILE)
    db = tmp_path / "ledger.db"
    sm = snakemake_for(major)
    env = clean_env()
    if major < 9:
        env["SNAKEMAKE_LOGGER_FLOWLEDGER_DB"] = str(db)
    cmd = sm.command("--config", "sleep=4", db=db if major >= 9 else None)
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (work / "started").exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.2)
        proc.send_signal(getattr(signal, signum))
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert not flowledger_warnings(stderr), stderr
    fl = open_ledger(db)
    (workflow,) = fl.Run.filter(reference_type="snakemake_id").all()
    assert workflow.status == "aborted", (workflow.status, workflow.error, stderr)
    (slow,) = [r for r in job_runs(fl) if r.transform.name == "slow"]
    if signum == "SIGTERM":  # Snakemake lets the running job finish
        assert slow.status == "completed" and (work / "x.out").exists()
    else:  # Snakemake gives up on it (its shell may still finish, unwatched)
        assert slow.status == "aborted", (slow.status, slow.error)
    assert not [r for r in job_runs(fl) if r.status == "errored"]


# ---- a job that Snakemake fails before it runs -----------------------------------------------------
MISSING_INPUT_SNAKEFILE = """
rule all:
    input: "y", "z"

rule a:
    output: "x"
    shell: "echo hi > {output}"

rule b:
    input: "x", "z"
    output: "y"
    shell: "cat {input} > {output}"

rule c:
    input: "x"
    output: "z"
    shell: "rm {input}; touch {output}"
"""


@pytest.mark.parametrize("major", BOTH)
def test_a_job_failed_before_it_runs_is_errored_with_snakemakes_message(major, tmp_path, open_ledger):
    """issue 9.6: `c` deletes `b`'s input, so Snakemake fails `b` (a WorkflowError, no job_error) before
    its command runs: `b` is errored with that message, not aborted."""
    work = make_workflow(tmp_path / "wf", MISSING_INPUT_SNAKEFILE)
    db = tmp_path / "ledger.db"
    done = run(major, work, db, "--latency-wait", "1")
    assert done.returncode == 1, done.stderr
    assert not flowledger_warnings(done.stderr), done.stderr
    fl = open_ledger(db)
    (workflow,) = fl.Run.filter(reference_type="snakemake_id").all()
    assert workflow.status == "errored"
    b = the_job(fl, "b")
    assert b.status == "errored", (b.status, b.error)
    assert "rule b" in b.error and "Missing files" in b.error
    assert {r.transform.name: r.status for r in job_runs(fl)} == {"a": "completed", "c": "completed", "b": "errored"}


# ---- checkpoints, multiext(), directory(), shadow:, group:, modules, spaces, --forcerun/--until ---------
FEATURES = Path(__file__).resolve().parent / "data" / "features"


def check_against_summary(fl, work: Path, rows: list[dict]) -> None:
    """Each row of `--detailed-summary`: its output is an artifact made by a job run of its rule (in this
    workflow run or an earlier one) whose inputs are the row's inputs."""
    assert rows
    for row in rows:
        artifact = fl.Artifact.filter(path=str(work / row["output_file"])).one()
        maker = fl.Run.get(id=artifact.run_id)
        assert maker.transform.name == row["rule"], row
        assert maker.status == "completed", row
        assert sorted(str(Path(a.path).relative_to(work)) for a in maker.inputs.all()) == sorted(
            row["input-file(s)"].split(",")
        ), row
        assert maker.initiated_by_run.reference_type == "snakemake_id"
        if row["status"] == "removed temp file":
            assert artifact.state == "deleted" and artifact.hash, row
        else:
            assert artifact.state in (None, "present"), row


@pytest.mark.parametrize("major", BOTH)
def test_features_against_the_detailed_summary(major, tmp_path, open_ledger):
    """issue 9.6: checkpoint, multiext(), directory(), shadow:, group:, temp() inside a module (`use rule *
    from other as other_*`), spaces in file names; then --forcerun and --until."""
    import shutil

    work = tmp_path / "wf"
    shutil.copytree(FEATURES, work)
    db = tmp_path / "ledger.db"
    done = run(major, work, db)
    assert done.returncode == 0, done.stderr
    assert not flowledger_warnings(done.stderr), done.stderr
    rows = summary(major, work)
    fl = open_ledger(db)
    (first,) = fl.Run.filter(reference_type="snakemake_id").all()
    assert first.status == "completed"
    check_against_summary(fl, work, rows)
    names = {r.transform.name: r for r in job_runs(fl)}
    assert set(names) == {row["rule"] for row in rows} | {"split", "all"}
    assert names["split"].json["is_checkpoint"] is True
    assert names["split"].json["flags"] == {str(work / "parts"): ["directory"]}
    assert names["mkdir"].json["flags"] == {str(work / "dir_out"): ["directory"]}
    assert names["other_first"].json["flags"] == {str(work / "mid.txt"): ["temp"]}
    assert [a.path for a in names["spaces"].outputs.all()] == [str(work / "my data" / "final out.txt")]
    assert not (work / "scratch.txt").exists()  # shadow: the scratch file stayed in the shadow folder
    assert not any(".snakemake/shadow" in a.path for a in fl.Artifact.filter().all())

    forced = run(major, work, db, "--forcerun", "multi")
    assert forced.returncode == 0, forced.stderr
    until = run(major, work, db, "--forcerun", "g1", "--until", "g1")
    assert until.returncode == 0, until.stderr
    rows = summary(major, work)
    fl = open_ledger(db)
    _first, second, third = fl.Run.filter(reference_type="snakemake_id").order_by("id").all()
    check_against_summary(fl, work, rows)
    assert {r.transform.name for r in fl.Run.filter(initiated_by_run=second).all()} == {"multi", "all"}
    assert {r.transform.name for r in fl.Run.filter(initiated_by_run=third).all()} == {"g1"}
    assert all(r.status == "completed" for r in job_runs(fl))


# ---- update() ------------------------------------------------------------------------------------
UPDATE_SNAKEFILE = """
rule all:
    input: "log.txt"

rule append:
    input: "a.txt"
    output: update("log.txt")
    shell: "cat {input} >> {output}"
"""


@pytest.mark.parametrize("major", BOTH)
def test_an_update_output_is_recorded_under_its_real_path(major, tmp_path, open_ledger):
    """issue 9.6: Snakemake logs `log.txt (update)`; the ledger has `log.txt`, flagged `update`, each
    invocation's content a version made by that invocation's job."""
    work = make_workflow(tmp_path / "wf", UPDATE_SNAKEFILE, **{"a.txt": "a\n", "log.txt": "old\n"})
    db = tmp_path / "ledger.db"
    for _ in range(2):
        done = run(major, work, db, "--forceall")
        assert done.returncode == 0, done.stderr
        assert not flowledger_warnings(done.stderr), done.stderr
    assert (work / "log.txt").read_text() == "old\na\na\n"
    (row,) = summary(major, work)
    assert row["output_file"] == "log.txt" and row["rule"] == "append"
    fl = open_ledger(db)
    appends = [r for r in job_runs(fl) if r.transform.name == "append"]
    assert len(appends) == 2
    log = str(work / "log.txt")
    for made in appends:
        assert [a.path for a in made.outputs.all()] == [log]
        assert made.json["flags"] == {log: ["update"]}
    latest = fl.Artifact.filter(path=log, is_latest=True).one()
    assert latest.run_id == appends[-1].id
    assert not any("(update)" in a.path for a in fl.Artifact.filter().all())
