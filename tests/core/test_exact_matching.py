"""uids and paths match literally and case-sensitively; a path prefix matches whole path components."""

import json
import subprocess
import sys
from pathlib import Path

import flowledger as fl
import pytest
from flowledger.plugin_api import Recorder, TransformSpec

pytestmark = pytest.mark.usefixtures("any_store")  # each test on SQLite, then on PostgreSQL


@pytest.fixture
def runs():
    recorder = Recorder()
    return [recorder.start_run(TransformSpec("wf"), uid=uid) for uid in ("abcdefgh12345678", "ab_defgh12345678")]


def show(*args):
    return subprocess.run([sys.executable, "-m", "flowledger", "show", *args], capture_output=True, text=True)


def test_uid_prefixes_are_literal_and_case_sensitive(runs):
    assert fl.Run.get("abcdef").uid == "abcdefgh12345678"
    assert fl.Run.get("ab_").uid == "ab_defgh12345678"  # `_` is a character, not a wildcard
    for pattern in ("ABCDEF", "_", "%", "a%", "ab*", "ab?"):
        with pytest.raises(fl.DoesNotExist):
            fl.Run.get(pattern)
        result = show(pattern)
        assert result.returncode == 1 and f"no run with uid {pattern!r}" in result.stderr


def test_paths_match_whole_components_literally(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = [
        "data/a_b/x.txt",
        "data/aXb/secret.txt",
        "data/results/r.txt",
        "results2/r.txt",
        "RESULTS/r.txt",
        "data/results/mid.txt",
    ]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
        fl.Artifact(name).save()

    def listed(prefix):
        found = sorted(a.path for a in fl.Artifact.filter(path__under=prefix))
        cli = subprocess.run(
            [sys.executable, "-m", "flowledger", "artifacts", "--json", "--path", prefix],
            capture_output=True,
            text=True,
            check=True,
        )
        assert found == sorted(item["path"] for item in json.loads(cli.stdout))  # the CLI says the same
        return [str(Path(path).relative_to(tmp_path)) for path in found]

    assert listed("data/a_b") == ["data/a_b/x.txt"]
    assert listed("data/results") == ["data/results/mid.txt", "data/results/r.txt"]
    assert listed("data/results/") == ["data/results/mid.txt", "data/results/r.txt"]
    assert listed("results") == []
    assert [a.path for a in fl.Artifact.filter(path__contains="mid.txt")] == [str(tmp_path / "data/results/mid.txt")]
    assert fl.Artifact.filter(path__contains="MID.TXT").count() == 0
    assert fl.Artifact.filter(path__startswith="data/a_").count() == 1
