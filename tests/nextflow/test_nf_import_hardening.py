"""The importer on hostile or broken launch dirs: symlink loops under a `**` output glob, a FIFO output,
a trace field over the csv limit, a binary `.command.run`: it ends, with one-line errors or warnings."""

import os
import subprocess
import sys

import nf_samples
import pytest
from click.testing import CliRunner
from flowledger.models import Run
from flowledger_nextflow.errors import NextflowError
from flowledger_nextflow.trace import read_trace
from flowledger_nextflow.workdir import match_outputs


def _merge_workdir(launch_dir):
    return next(p.parent for p in (launch_dir / "work").glob("*/*/.command.run") if "MERGE" in p.read_text())


def test_symlink_loops_under_a_double_star_glob_end(tmp_path):
    wd = tmp_path / "work" / "ab" / "cdef"
    (wd / "a" / "b").mkdir(parents=True)
    (wd / "a" / "loop").symlink_to("..")
    (wd / "a" / "b" / "loop").symlink_to("../..")
    (wd / "a" / "b" / "x.txt").write_text("x")
    (wd / "out.txt").write_text("o")
    found = match_outputs(str(wd), ["**", "**/*.txt", "a/**/loop/**"], set())
    rel = sorted(os.path.relpath(p, wd) for p in found)
    assert rel == ["a", "a/b", "a/b/loop", "a/b/x.txt", "a/loop", "out.txt"]  # the links, not through them


@pytest.mark.slow
def test_import_ends_on_symlink_loops_a_double_star_glob_and_a_fifo(launch_dir):
    wd = _merge_workdir(launch_dir)
    run_file = wd / ".command.run"
    run_file.write_text(run_file.read_text().replace("### outputs:\n", "### outputs:\n### - '**'\n### - 'pipe'\n"))
    for i in range(4):  # 4 loops per level: following them would never end
        (wd / f"loop{i}").symlink_to(".")
    os.mkfifo(wd / "pipe")
    done = subprocess.run(
        [sys.executable, "-m", "flowledger_nextflow", "import", str(launch_dir), "--run", nf_samples.OK],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert Run.filter(reference=nf_samples.OK).one().status == "completed"


def test_a_trace_field_over_the_csv_limit_is_a_one_line_error(launch_dir, tmp_path):
    trace = tmp_path / "trace-huge.txt"
    trace.write_text("task_id\thash\tname\n1\tab/cdef12\t" + "x" * 200_000 + "\n")
    with pytest.raises(NextflowError, match="not a readable trace file: field larger than field limit"):
        read_trace(trace)
    from flowledger.cli import cli

    result = CliRunner().invoke(
        cli, ["nextflow", "import", str(launch_dir), "--run", nf_samples.OK, "--trace", str(trace)]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert [line for line in result.output.splitlines() if line.strip()] == [
        line for line in result.output.splitlines() if "field larger than field limit" in line
    ], result.output


def test_a_fifo_trace_file_is_refused_not_waited_on(launch_dir, tmp_path):
    fifo = tmp_path / "trace-fifo.txt"
    os.mkfifo(fifo)
    with pytest.raises(NextflowError, match="not a regular file"):
        read_trace(fifo)


def test_a_binary_command_run_is_a_warning(launch_dir):
    from flowledger.cli import cli

    wd = _merge_workdir(launch_dir)
    (wd / ".command.run").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    result = CliRunner().invoke(cli, ["nextflow", "import", str(launch_dir), "--run", nf_samples.OK])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "is a binary file" in warnings[0], result.output
    assert Run.filter(reference=nf_samples.OK).one().status == "completed"
