"""Property-based fuzzing (hypothesis): generated weblog requests at a live receiver, generated trace,
history and `.command.run` files at the importer's readers. Every request gets 200 or a 4xx, the server
stays up, what was recorded before is unchanged; every file parses or is a one-line NextflowError."""

import json
import string
import urllib.request
import uuid

import nf_samples
from flowledger_nextflow.errors import NextflowError
from flowledger_nextflow.history import read_history
from flowledger_nextflow.trace import read_trace
from flowledger_nextflow.workdir import read_workdir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nf_support import post, snapshot

TOKEN = "alice:s3cret"
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
run_names = st.sampled_from([nf_samples.OK, nf_samples.FAIL, "fuzzy_run"]) | st.text(max_size=12)
run_ids = st.uuids().map(str) | st.text(max_size=12)  # never the OK run's own session id
events = st.fixed_dictionaries(
    {
        "event": st.sampled_from(
            ["started", "process_submitted", "process_started", "process_completed", "error", "completed", "x"]
        ),
        "runId": run_ids,
        "runName": run_names,
    },
    optional={
        "utcTime": json_values,
        "trace": st.dictionaries(
            st.sampled_from(["task_id", "hash", "name", "status", "workdir", "exit", "submit", "start", "script"]),
            json_values | st.sampled_from(["/etc", "/etc/passwd", "COMPLETED", "FAILED"]),
        )
        | json_values,
        "metadata": st.fixed_dictionaries(
            {},
            optional={
                "workflow": st.dictionaries(
                    st.sampled_from(["runName", "sessionId", "workDir", "launchDir", "outputDir", "manifest", "stats"]),
                    json_values | st.sampled_from(["/usr", "/", "/etc"]),
                )
                | json_values,
                "parameters": json_values,
            },
        )
        | json_values,
    },
)
bodies = (
    events.map(lambda e: json.dumps(e).encode())
    | st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
)


def test_fuzzed_weblog_requests(launch_dir, receiver):
    for body in nf_samples.weblog_bodies(nf_samples.OK, launch_dir):
        assert post(receiver.url, body, TOKEN)[0] == 200
    receiver.wait_idle()
    before = snapshot(launch_dir)

    @FUZZ
    @given(body=bodies)
    def check(body):
        status, answer = post(receiver.url, body, TOKEN)
        assert status == 200 or 400 <= status < 500, (status, answer)
        if status >= 400:
            assert "\n" not in json.loads(answer)["message"]

    check()
    receiver.wait_idle()
    with urllib.request.urlopen(receiver.url.rsplit("/", 1)[0] + "/health", timeout=10) as alive:
        assert alive.status == 200
    after = snapshot(launch_dir)
    assert {key: after[key] for key in before} == before  # nothing recorded before was changed
    assert all("\n" not in w for w in receiver.warnings)


lines = st.text(alphabet=string.printable + "\t\x00é", max_size=80)
files = st.lists(lines, max_size=8).map("\n".join) | st.binary(max_size=300).map(lambda b: b.decode("latin-1"))


def _header_like(name):
    return st.lists(
        st.sampled_from(["### name: 'T (1)'", "### outputs:", "### - '*.txt'", "### - '/etc/passwd'", "### - '../x'"])
        | st.just("nxf_stage() {")
        | st.builds(lambda a, b: f"    ln -s {a} {b}", lines, lines)
        | st.just("}")
        | lines,
        max_size=10,
    ).map("\n".join)


def _check(reader, path):
    try:
        reader(path)
    except NextflowError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(trace=files | st.builds(lambda rows: "task_id\thash\tname\n" + rows, files), history=files)
def test_fuzzed_trace_and_history_files(tmp_path_factory, trace, history):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "trace.txt").write_bytes(trace.encode("utf-8", "surrogatepass"))
    (folder / "history").write_bytes(history.encode("utf-8", "surrogatepass"))
    _check(read_trace, folder / "trace.txt")
    _check(read_history, folder / "history")


@FUZZ
@given(text=_header_like("run") | files)
def test_fuzzed_command_run_files(tmp_path_factory, text):
    work = tmp_path_factory.mktemp("work") / "ab" / uuid.uuid4().hex
    work.mkdir(parents=True)
    (work / ".command.run").write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        wd = read_workdir(work)
    except NextflowError as exc:
        assert "\n" not in str(exc)
        return
    assert all(path.startswith(str(work)) for path in wd.outputs)
