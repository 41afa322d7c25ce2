"""Finding files in redun values: nesting, staging, relative paths, remote URLs."""

import os
from collections import namedtuple
from dataclasses import dataclass

from redun import Dir, File

from flowledger_redun.values import job_inputs, job_outputs, unique_files


def test_nested_values_yield_each_file_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Pair = namedtuple("Pair", "left right")

    @dataclass
    class Bundle:
        main: File
        extra: list

    a, b, c = File("a.txt"), File("sub/b.txt"), File("/abs/c.txt")
    value = {"k": [a, (b, {a})], File("key.txt"): Pair(c, Bundle(b, [Dir("folder"), 3, "x", None]))}
    found = unique_files(value)
    paths = [f.path for f in found]
    assert sorted(paths) == sorted({str(tmp_path / "a.txt"), str(tmp_path / "sub/b.txt"), "/abs/c.txt",
                                    str(tmp_path / "key.txt"), str(tmp_path / "folder")})
    assert [f.is_dir for f in found if f.path.endswith("folder")] == [True]


def test_staged_files_are_their_remote_side(tmp_path):
    staged = File("remote/out.txt").stage("local_out.txt")
    [found] = unique_files([staged], base=str(tmp_path))
    assert found.path == str(tmp_path / "remote/out.txt")


def test_remote_files_are_kept_apart(tmp_path):
    (tmp_path / "here.txt").write_text("x")
    inputs, remote = job_inputs(([File("s3://bucket/key.txt"), File("here.txt")], {}), base=str(tmp_path))
    assert inputs == [str(tmp_path / "here.txt")]
    assert remote == ["s3://bucket/key.txt"]


def test_inputs_exist_and_outputs_are_claimed_once(tmp_path):
    base = str(tmp_path)
    (tmp_path / "in.txt").write_text("x")
    (tmp_path / "out.txt").write_text("y")
    inputs, _ = job_inputs(([File("in.txt"), File("not_yet.txt")], {}), base=base)
    assert inputs == [os.path.join(base, "in.txt")]
    attributed: set = set()
    # A job returning its own input and a new file: only the new file is its output.
    outputs, _ = job_outputs([File("in.txt"), File("out.txt")], inputs, attributed, base=base)
    assert outputs == [os.path.join(base, "out.txt")]
    # Its parent passes the same file on: not the parent's output.
    outputs, _ = job_outputs(File("out.txt"), [], attributed, base=base)
    assert outputs == []
