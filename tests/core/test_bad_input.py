"""Bad input to the recorder is a clear one-line error naming the thing at fault, never a deep traceback."""

import math
import os
import signal
import subprocess
import sys
import textwrap

import flowledger as fl
import pytest
from flowledger.plugin_api import InputError, Recorder, TransformSpec


@pytest.mark.parametrize("when", [1e20, math.nan, math.inf, "yesterday"])
def test_a_time_that_is_not_one_is_refused(when):
    with pytest.raises(InputError, match=r"is not (a time|an ISO 8601 time)"):
        Recorder().start_run(TransformSpec("wf"), started_at=when)
    assert fl.Run.filter().count() == 0


def test_a_run_cannot_end_before_it_began():
    recorder = Recorder()
    with pytest.raises(InputError, match=r"finished_at 2026-01-01T00:00:00.000000\+00:00 is before started_at"):
        recorder.record_job(TransformSpec("job"), started_at="2026-01-02T00:00:00Z", finished_at="2026-01-01T00:00:00Z")
    uid = recorder.start_run(TransformSpec("wf"), started_at="2026-01-02T00:00:00Z")
    with pytest.raises(InputError, match="is before started_at"):
        recorder.finish_run(uid, finished_at="2026-01-01T00:00:00Z")
    assert fl.Run.get(uid).status == "started"  # nothing half-written


def test_a_file_name_that_is_not_utf8_is_named_and_the_job_kept(tmp_path):
    odd = os.path.join(os.fsencode(tmp_path), b"caf\xe9.txt")
    with open(odd, "wb") as handle:
        handle.write(b"x")
    (tmp_path / "fine.txt").write_text("y")
    uid = Recorder().record_job(TransformSpec("job"), inputs=[odd, tmp_path / "fine.txt"])
    run = fl.Run.get(uid)
    assert [a.path for a in run.inputs] == [str(tmp_path / "fine.txt")]
    assert "the file name is not valid UTF-8, so flowledger cannot record it" in run.json["missing_inputs"][0]


KILLED = textwrap.dedent("""
    import os, sys, time
    from flowledger.plugin_api import Recorder, TransformSpec
    print(Recorder().start_run(TransformSpec("wf")), flush=True)
    time.sleep(60)
""")


def test_a_started_run_whose_process_is_gone_shows_as_unfinished():
    process = subprocess.Popen([sys.executable, "-c", KILLED], stdout=subprocess.PIPE, text=True)
    uid = process.stdout.readline().strip()
    assert fl.Run.get(uid).state == "started"  # its process is alive
    process.send_signal(signal.SIGKILL)
    process.wait()
    run = fl.Run.get(uid)
    assert (run.status, run.state) == ("started", "unfinished")  # derived: nothing was rewritten
    listed = subprocess.run(
        [sys.executable, "-m", "flowledger", "runs", "--status", "unfinished", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"state": "unfinished"' in listed.stdout and uid in listed.stdout
    live = Recorder().start_run(TransformSpec("wf"))
    assert fl.Run.get(live).state == "started"
