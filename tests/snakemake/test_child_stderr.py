"""The tee on a spawned job's child: its stderr still reaches the console, a failure keeps its traceback,
and the pipeline never waits for a grandchild that holds the pipe. (The real `run:` block is in
test_end_to_end.py's failure step, on Snakemake 8 and 9.)"""

from __future__ import annotations

import subprocess
import time

import pytest
from snakemake_logger_plugin_flowledger.child_stderr import ATTRIBUTE, failure_report, run_and_keep_stderr
from snakemake_logger_plugin_flowledger.workflow_info import exit_code_of

# What the child `python -m snakemake` printed on stderr for a failed run: block (captured from 9.27 and 8.30).
CHILD_9 = """\
Building DAG of jobs...
Using shell: /usr/bin/bash
Select jobs to execute...
ValueError: a line the user's run: block printed, before the failure
RuleException:
KeyError in file "/tmp/runerr/Snakefile", line 9:
'missing'
  File "/tmp/runerr/Snakefile", line 9, in __rule_boom
Exiting because a job execution failed. Look above for error messages
WorkflowError:
At least one job did not complete successfully.
"""
CHILD_8 = """\
host: vm
RuleException:
KeyError in file /tmp/runerr/Snakefile, line 9:
'missing'
  File "/tmp/runerr/Snakefile", line 9, in __rule_boom
[Mon Dec  7 03:39:48 2026]
Error in rule boom:
    jobid: 0
    output: out.txt

Exiting because a job execution failed. Look above for error message
"""
REPORT_9 = """\
RuleException:
KeyError in file "/tmp/runerr/Snakefile", line 9:
'missing'
  File "/tmp/runerr/Snakefile", line 9, in __rule_boom"""

REPORT_8 = """\
RuleException:
KeyError in file /tmp/runerr/Snakefile, line 9:
'missing'
  File "/tmp/runerr/Snakefile", line 9, in __rule_boom"""


class SpawnedJobError(Exception):
    """Stands in for snakemake.exceptions.SpawnedJobError."""


def test_a_failing_child_raises_with_its_stderr_kept_and_passed_through(capfd):
    with pytest.raises(SpawnedJobError) as raised:
        run_and_keep_stderr("echo to-stdout; echo 'RuleException:' >&2; echo 'boom' >&2; exit 3", SpawnedJobError)
    assert getattr(raised.value, ATTRIBUTE) == "RuleException:\nboom\n"
    assert exit_code_of(raised.value) == 3  # the CalledProcessError is in its chain, as Snakemake's own
    printed = capfd.readouterr()
    assert printed.out == "to-stdout\n"  # stdout is untouched
    assert printed.err == "RuleException:\nboom\n"  # the console still shows the traceback


def test_a_succeeding_child_raises_nothing(capfd):
    run_and_keep_stderr("echo fine >&2", SpawnedJobError)
    assert capfd.readouterr().err == "fine\n"


def test_a_grandchild_holding_stderr_open_does_not_hold_up_the_job():
    began = time.monotonic()
    run_and_keep_stderr("sleep 30 & exit 0", SpawnedJobError)  # `sleep` inherits the pipe and keeps it open
    assert time.monotonic() - began < 10
    subprocess.run(["pkill", "-f", "^sleep 30$"], check=False)


def test_only_the_tail_is_kept():
    with pytest.raises(SpawnedJobError) as raised:
        run_and_keep_stderr("head -c 1000000 /dev/zero | tr '\\0' x >&2; exit 1", SpawnedJobError)
    kept = getattr(raised.value, ATTRIBUTE)
    assert 64 * 1024 <= len(kept) <= 128 * 1024


@pytest.mark.parametrize(("printed", "expected"), [(CHILD_9, REPORT_9), (CHILD_8, REPORT_8)], ids=["9", "8"])
def test_the_report_is_snakemakes_rule_exception_block(printed, expected):
    error = SpawnedJobError()
    setattr(error, ATTRIBUTE, printed)
    assert failure_report(error) == expected


def test_without_a_rule_exception_the_last_lines_are_the_report():
    error = SpawnedJobError()
    setattr(error, ATTRIBUTE, "\n".join(f"line {n}" for n in range(50)))
    assert failure_report(error) == "\n".join(f"line {n}" for n in range(30, 50))
    assert failure_report(SpawnedJobError()) is None  # nothing was tee'd (the tee could not be installed)
