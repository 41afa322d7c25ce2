"""The mapping from redun's data: files in values (nesting, staging, relative paths, remote URLs), statuses, json."""

import os
from collections import namedtuple
from dataclasses import dataclass
from types import SimpleNamespace

from flowledger.plugin_api import RunStatus
from flowledger_redun.mapping import (
    error_text,
    execution_argv,
    execution_status,
    imported_execution_status,
    job_inputs,
    job_json,
    job_outputs,
    job_status,
    missing_when_hashed,
    pipeline_transform,
    stored_error_text,
    tags_json,
    unique_files,
)
from redun import Dir, File


def test_nested_values_yield_each_file_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Pair = namedtuple("Pair", "left right")

    @dataclass
    class Bundle:
        main: File
        extra: list

    a, b, c = File("a.txt"), File("sub/b.txt"), File("/abs/c.txt")
    value = {"k": [a, (b, {a})], File("key.txt"): Pair(c, Bundle(b, [Dir("folder"), 3, "x", None]))}
    found = unique_files(value, os.getcwd())  # the tracker's base: the working directory
    paths = [f.path for f in found]
    assert sorted(paths) == sorted(
        {
            str(tmp_path / "a.txt"),
            str(tmp_path / "sub/b.txt"),
            "/abs/c.txt",
            str(tmp_path / "key.txt"),
            str(tmp_path / "folder"),
        }
    )
    assert [f.is_dir for f in found if f.path.endswith("folder")] == [True]


def test_staged_files_are_their_remote_side(tmp_path):
    staged = File("remote/out.txt").stage("local_out.txt")
    [found] = unique_files([staged], str(tmp_path))
    assert found.path == str(tmp_path / "remote/out.txt")


def test_remote_files_are_kept_apart(tmp_path):
    (tmp_path / "here.txt").write_text("x")
    inputs, remote = job_inputs(([File("s3://bucket/key.txt"), File("here.txt")], {}), str(tmp_path), os.path.exists)
    assert inputs == [str(tmp_path / "here.txt")]
    assert remote == ["s3://bucket/key.txt"]


def test_inputs_exist_and_outputs_are_claimed_once(tmp_path):
    base = str(tmp_path)
    (tmp_path / "in.txt").write_text("x")
    (tmp_path / "out.txt").write_text("y")
    inputs, _ = job_inputs(([File("in.txt"), File("not_yet.txt")], {}), base, os.path.exists)
    assert inputs == [os.path.join(base, "in.txt")]
    # A job returning its own input and a new file: only the new file is its output.
    outputs, _ = job_outputs([File("in.txt"), File("out.txt")], inputs, set(), base)
    assert outputs == [os.path.join(base, "out.txt")]
    # Its parent passes the same file on (a descendant's output): not the parent's output.
    assert job_outputs(File("out.txt"), [], set(outputs), base)[0] == []
    # The same call made again elsewhere (redun's cached twin): its result's file is its own too.
    assert job_outputs(File("out.txt"), [], set(), base)[0] == outputs


def test_paths_are_made_without_touching_the_disk():
    """Whether a file exists is the caller's question (`exists`): the mapping itself does no I/O."""
    asked = []

    def exists(path):
        asked.append(path)
        return path.endswith("a.txt")

    inputs, remote = job_inputs([File("a.txt"), File("../b.txt"), File("gs://bucket/c.txt")], "/base/dir", exists)
    assert inputs == ["/base/dir/a.txt"] and remote == ["gs://bucket/c.txt"]
    assert asked == ["/base/dir/a.txt", "/base/b.txt"]


def test_statuses_in_redun_terms():
    assert {name: job_status(name) for name in ("DONE", "CACHED", "FAILED", "RUNNING")} == {
        "DONE": RunStatus.COMPLETED,
        "CACHED": RunStatus.CACHED,
        "FAILED": RunStatus.ERRORED,
        "RUNNING": RunStatus.ABORTED,
    }
    # An execution: live, from how Scheduler.run ended; imported, from its root job (a cached root completes it).
    assert execution_status(None) is RunStatus.COMPLETED
    assert execution_status(KeyboardInterrupt()) is RunStatus.ABORTED
    assert execution_status(ValueError("x")) is RunStatus.ERRORED
    assert [imported_execution_status(s) for s in ("DONE", "CACHED", "FAILED", "RUNNING")] == [
        RunStatus.COMPLETED,
        RunStatus.COMPLETED,
        RunStatus.ERRORED,
        RunStatus.ABORTED,
    ]


def test_run_fields():
    task = SimpleNamespace(fullname="fl_test_mapping.t", hash="h" * 40)
    assert job_json(
        task, execution_id="e", parent_job_id=None, call_hash="c", remote_files=["s3://b", "s3://a", "s3://b"]
    ) == {"task_hash": "h" * 40, "execution_id": "e", "call_hash": "c", "remote_files": ["s3://a", "s3://b"]}
    assert tags_json([("user", "ada"), ("n", 3), ("list", [1, 2])]) == {"user": "ada", "n": 3, "list": "[1, 2]"}
    assert execution_argv('["redun", "run", "wf.py", "main"]') == ["redun", "run", "wf.py", "main"]
    assert execution_argv("not json") == ["not json"]
    error = ValueError("bad input")
    assert error_text(error) == stored_error_text(SimpleNamespace(error=error)) == "ValueError: bad input"
    assert pipeline_transform(None).name == "redun.root_task"


def test_files_redun_hashed_as_missing(tmp_path):
    """A File hashed before it was written keeps redun's hash of a missing file: the importer's clue that
    it was handed over to be written, not read (a staged script output, say)."""
    base = str(tmp_path)
    gone, there = tmp_path / "later.txt", tmp_path / "now.txt"
    there.write_text("x")
    to_write, to_read = File(str(gone)), File(str(there))
    assert to_write.hash and to_read.hash  # hashed now, as redun does when it evaluates arguments
    gone.write_text("written afterwards")
    staged = File(str(gone)).stage(str(tmp_path / "local.txt"))
    assert staged.remote.hash
    assert missing_when_hashed(([to_write, to_read], {"out": staged}), base) == {str(gone)}
    assert missing_when_hashed([File(str(gone))], base) == set()  # never hashed: no clue
