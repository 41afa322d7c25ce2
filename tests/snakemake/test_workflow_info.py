"""Fast tests of the live-object lookups that do not need a running Snakemake (and of the workflow's
version, which `mapping` makes of what they read)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from snakemake_logger_plugin_flowledger import mapping
from snakemake_logger_plugin_flowledger import workflow_info as wi


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True).stdout


def workflow_version(basedir: str, files: list[str]) -> tuple[str, dict | None]:
    """(version, git state) as the tracker gets them: read by workflow_info, the version made by mapping."""
    state = wi.git_state(basedir)
    return mapping.workflow_version(wi.files_digest(files, basedir), state), state


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_version_is_the_git_commit_and_marks_local_edits(tmp_path):
    repo = tmp_path / "analysis"
    (repo / "workflow").mkdir(parents=True)
    snakefile = repo / "workflow" / "Snakefile"
    snakefile.write_text("rule a:\n    output: 'a'\n    shell: 'touch {output}'\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "one")
    head = git(repo, "rev-parse", "HEAD").strip()

    version, state = workflow_version(str(repo / "workflow"), [str(snakefile)])
    assert version == head[:12] and state["commit"] == head and state["dirty"] is False

    snakefile.write_text(snakefile.read_text() + "# edited\n")
    dirty, state = workflow_version(str(repo / "workflow"), [str(snakefile)])
    assert dirty.startswith(head[:12] + "-dirty-") and state["dirty"] is True
    assert mapping.workflow_name(str(repo / "workflow")) == "analysis"  # the standard <repo>/workflow layout


def test_version_without_git_hashes_the_files(tmp_path):
    one = tmp_path / "Snakefile"
    one.write_text("rule a:\n    shell: 'true'\n")
    first, _ = workflow_version(str(tmp_path), [str(one)])
    assert first.startswith("sha256:")
    assert workflow_version(str(tmp_path), [str(one)])[0] == first
    one.write_text("rule a:\n    shell: 'false'\n")
    assert workflow_version(str(tmp_path), [str(one)])[0] != first


def test_run_block_is_cut_out_of_the_rule():
    rule = (
        "rule report:\n    input: 'x'\n    output: 'y'\n    run:\n        with open(output[0], 'w') as f:\n"
        "            f.write('hi')\n\n        print('done')\n"
    )
    expected = "run:\n    with open(output[0], 'w') as f:\n        f.write('hi')\n\n    print('done')\n"
    assert wi.run_block(rule) == expected


def test_exit_code_from_exception_chains():
    try:
        try:
            subprocess.run(["sh", "-c", "exit 4"], check=True)
        except subprocess.CalledProcessError:
            raise RuntimeError("spawned job failed")  # noqa: B904 (the implicit __context__ is what is tested)
    except RuntimeError as error:
        assert wi.exit_code_of(error) == 4

    class RuleException(Exception):
        pass

    wrapped = RuleException("rule failed")
    wrapped._include = [subprocess.CalledProcessError(7, "cmd")]
    assert wi.exit_code_of(wrapped) == 7
    assert wi.exit_code_of(ValueError("no process")) is None
