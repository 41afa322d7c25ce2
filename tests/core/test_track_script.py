"""`fl.track()` / `fl.finish()` in real Python scripts, run as subprocesses against the test's ledger."""

import hashlib
import os
import re
import signal
import subprocess
import sys

import flowledger as fl
from flowledger.identity import current_handle

HEADER = "import flowledger as fl\n"


def run_script(folder, body: str, name: str = "analysis.py") -> subprocess.CompletedProcess:
    script = folder / name
    script.write_text(HEADER + body)
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=folder, env=os.environ.copy(), timeout=120
    )


def only_run() -> fl.Run:
    return fl.Run.filter().one()


def test_tracked_script_is_a_transform_with_a_completed_run(tmp_path):
    done = run_script(tmp_path, "run = fl.track()\nprint(run.uid, fl.context.run.uid)\nfl.finish()\n")
    assert done.returncode == 0, done.stderr
    run = only_run()
    assert done.stdout.split() == [run.uid, run.uid]  # fl.context.run is the run track() returned
    assert run.status == "completed" and run.finished_at >= run.started_at and run.error is None
    assert run.created_by.handle == current_handle()
    transform = run.transform
    source = (tmp_path / "analysis.py").read_text()
    assert (transform.name, transform.type, transform.source_code) == ("analysis.py", "script", source)
    assert transform.version == hashlib.sha256(source.encode()).hexdigest()[:12]
    assert transform.reference == str(tmp_path / "analysis.py")


def test_environment_is_a_requirements_file_of_installed_packages(tmp_path):
    run_script(tmp_path, "fl.track()\nfl.finish()\n")
    environment = only_run().environment
    lines = [line for line in open(environment.path).read().splitlines() if not line.startswith("#")]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==\S+", line) for line in lines), lines
    assert f"flowledger=={fl.__version__}" in lines
    assert any(line.lower().startswith("sqlite-utils==") for line in lines)
    assert environment.hash == hashlib.sha256(open(environment.path, "rb").read()).hexdigest()


def test_raising_script_is_errored_and_keeps_its_traceback_and_exit_status(tmp_path):
    done = run_script(tmp_path, "fl.track()\nraise ValueError('sample 42 has no reads')\n")
    assert done.returncode == 1
    assert "Traceback" in done.stderr and 'analysis.py", line 3' in done.stderr
    assert done.stderr.rstrip().endswith("ValueError: sample 42 has no reads")
    run = only_run()
    assert run.status == "errored" and run.finished_at is not None
    assert run.error == "ValueError: sample 42 has no reads"
    assert "line 3" in run.json["traceback"]


def test_interrupted_script_is_aborted(tmp_path):
    done = run_script(tmp_path, "fl.track()\nraise KeyboardInterrupt\n")
    assert done.returncode != 0 and "KeyboardInterrupt" in done.stderr
    assert only_run().status == "aborted"


def test_script_without_finish_is_errored(tmp_path):
    done = run_script(tmp_path, "fl.track()\nprint('done, but forgot finish')\n")
    assert done.returncode == 0 and done.stdout == "done, but forgot finish\n"
    run = only_run()
    assert run.status == "errored" and "without fl.finish()" in run.error and run.finished_at


def test_script_exiting_early_keeps_its_exit_status_and_is_errored(tmp_path):
    done = run_script(tmp_path, "import sys\nfl.track()\nsys.exit(3)\n")
    assert done.returncode == 3 and done.stderr == ""
    assert only_run().status == "errored"


def test_same_source_is_the_same_version_and_an_edit_a_new_one(tmp_path):
    body = "fl.track()\nfl.finish()\n"
    run_script(tmp_path, body)
    run_script(tmp_path, body)
    first, second = fl.Run.filter().order_by("id").all()
    assert first.transform == second.transform
    run_script(tmp_path, body + "# a comment is an edit too\n")
    third = fl.Run.filter().order_by("-id").first()
    assert third.transform != first.transform
    assert third.transform.name == first.transform.name and third.transform.version != first.transform.version
    assert third.transform.uid[:12] == first.transform.uid[:12]  # one family of versions
    assert [t.id for t in first.transform.versions] == [first.transform.id, third.transform.id]


def test_given_version_is_kept_and_edited_code_under_it_is_flagged(tmp_path):
    body = "fl.track(version='1.0')\nfl.finish()\n"
    run_script(tmp_path, body)
    assert only_run().transform.version == "1.0"
    done = run_script(tmp_path, body + "print('edited')\n")
    assert done.returncode == 0 and "pass a new version" in done.stderr
    assert fl.Transform.filter().count() == 1  # (name, version) stays unique; the first code is what it holds


def test_track_a_given_transform(tmp_path):
    done = run_script(
        tmp_path,
        (
            "pipeline = fl.Transform(name='Cell Ranger', version='7.2.0', type='pipeline')\n"
            "run = fl.track(transform=pipeline)\n"
            "assert fl.context.run is run and fl.context.transform == pipeline\n"
            "fl.finish()\n"
        ),
    )
    assert done.returncode == 0, done.stderr
    run = only_run()
    assert (run.transform.name, run.transform.version, run.transform.type) == ("Cell Ranger", "7.2.0", "pipeline")
    assert run.status == "completed"
    assert fl.Transform.filter().count() == 1  # the script itself was not registered


def test_terminated_script_is_aborted(tmp_path):
    """A scheduler's SIGTERM: the run is aborted, and the process still dies of the signal."""
    script = tmp_path / "killed.py"
    script.write_text("import os, signal\nimport flowledger as fl\nfl.track()\nos.kill(os.getpid(), signal.SIGTERM)\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert result.returncode == -signal.SIGTERM
    run = fl.Run.filter(transform__name="killed.py").one()
    assert (run.status, run.error) == ("aborted", "terminated by SIGTERM")


def test_the_run_says_where_the_script_ran(tmp_path):
    script = tmp_path / "analysis.py"
    script.write_text(HEADER + "fl.track()\nfl.finish()\n")
    done = subprocess.run(
        [sys.executable, str(script), "--samples", "s1,s2"], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    run = only_run()
    assert run.json["argv"] == [str(script), "--samples", "s1,s2"]
    assert run.json["cwd"] == str(tmp_path)
    assert run.json["host"] == run.host == os.uname().nodename
    assert run.json["python"] == ".".join(map(str, sys.version_info[:3]))
