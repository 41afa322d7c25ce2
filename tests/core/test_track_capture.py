"""`fl.track()` records the files a script opens from Python: real scripts, run as subprocesses."""

import hashlib
import subprocess
import sys
import textwrap

import flowledger as fl


def run_script(folder, body: str, *args: str) -> subprocess.CompletedProcess:
    script = folder / "analysis.py"
    script.write_text("import flowledger as fl\n" + textwrap.dedent(body))
    done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=folder, timeout=120)
    return done


def files_of(run: fl.Run) -> tuple[set[str], set[str]]:
    return {a.path for a in run.inputs}, {a.path for a in run.outputs}


def test_files_opened_through_open_pathlib_pandas_and_numpy_are_inputs_and_outputs(tmp_path):
    (tmp_path / "counts.csv").write_text("sample,reads\ns1,10\ns2,12\n")
    (tmp_path / "notes.txt").write_text("two samples\n")
    (tmp_path / "config.json").write_text("{}")
    done = run_script(
        tmp_path,
        """
        import json, pathlib
        import numpy as np
        import pandas as pd
        fl.track()
        table = pd.read_csv("counts.csv")
        table.assign(double=table.reads * 2).to_csv("doubled.csv", index=False)
        notes = pathlib.Path("notes.txt").read_text()
        pathlib.Path("summary.txt").write_text(notes.upper())
        np.save("reads.npy", table.reads.to_numpy())
        assert np.load("reads.npy").sum() == 22  # written, then read back: an output
        with open("config.json") as file:
            json.load(file)
        with open("log.txt", "a") as file:
            file.write("done\\n")
        fl.finish()
        """,
    )
    assert done.returncode == 0, done.stderr
    run = fl.Run.filter().one()
    inputs, outputs = files_of(run)
    assert inputs == {str(tmp_path / n) for n in ("counts.csv", "notes.txt", "config.json")}
    assert outputs == {str(tmp_path / n) for n in ("doubled.csv", "summary.txt", "reads.npy", "log.txt")}
    doubled = fl.Artifact.get(path=str(tmp_path / "doubled.csv"))
    assert doubled.run == run and doubled.hash == hashlib.sha256((tmp_path / "doubled.csv").read_bytes()).hexdigest()
    assert "missing_inputs" not in run.json and "missing_outputs" not in run.json


def test_files_false_records_no_files_but_explicit_ones(tmp_path):
    (tmp_path / "in.txt").write_text("x")
    done = run_script(
        tmp_path,
        """
        run = fl.track(files=False)
        open("out.txt", "w").write(open("in.txt").read())
        open("other.txt", "w").write("y")
        run.inputs.add("in.txt")
        run.outputs.add("out.txt")
        fl.finish()
        """,
    )
    assert done.returncode == 0, done.stderr
    assert files_of(fl.Run.filter().one()) == ({str(tmp_path / "in.txt")}, {str(tmp_path / "out.txt")})


def test_what_is_not_the_users_data_is_left_out(tmp_path, monkeypatch, ledger_path):
    runtime = tmp_path / "jupyter-runtime"
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)  # the helper's bytecode is written beside it
    monkeypatch.delenv("PYTHONPYCACHEPREFIX", raising=False)
    (tmp_path / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    (tmp_path / "data.txt").write_text("1\n")
    done = run_script(
        tmp_path,
        f"""
        import os, sys
        import jupyter_core.paths
        import pandas
        run = fl.track()
        import helpers  # the script's own module (and its bytecode, written now): code, not data
        open(pandas.__file__).read()  # site-packages
        open(os.path.join(os.path.dirname(os.__file__), "LICENSE.txt")).read()  # the Python installation
        open("/proc/self/status").read()
        open("/dev/null", "w").write("x")
        open("/etc/hostname").read() if os.path.exists("/etc/hostname") else None
        open({str(ledger_path)!r}, "rb").read(100)  # the ledger, and flowledger's files beside it
        open(run.environment.path).read()
        os.makedirs(jupyter_core.paths.jupyter_runtime_dir(), exist_ok=True)
        open(os.path.join(jupyter_core.paths.jupyter_runtime_dir(), "kernel-1.json"), "w").write("{{}}")
        open("analysis.py").read()  # the script itself: its source is the transform's
        os.makedirs(os.environ["XDG_CACHE_HOME"] + "/sometool")
        open(os.environ["XDG_CACHE_HOME"] + "/sometool/fontlist.json", "w").write("[]")  # a tool's cache
        print(helpers.double(int(open("data.txt").read())))
        fl.finish()
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2\n"
    assert files_of(fl.Run.filter().one()) == ({str(tmp_path / "data.txt")}, set())
    assert (runtime / "kernel-1.json").exists() and (tmp_path / "__pycache__").is_dir()
    assert (tmp_path / "cache" / "sometool" / "fontlist.json").exists()


def test_deleted_outputs_are_dropped_and_deleted_inputs_kept_as_deleted(tmp_path):
    (tmp_path / "scratch-input.txt").write_text("read, then removed\n")
    digest = hashlib.sha256(b"read, then removed\n").hexdigest()
    done = run_script(
        tmp_path,
        """
        import os, pathlib, tempfile
        fl.track()
        open("scratch-input.txt").read()
        os.remove("scratch-input.txt")
        open("temporary.txt", "w").write("gone before finish")
        pathlib.Path("temporary.txt").unlink()
        with tempfile.TemporaryDirectory() as folder:
            open(os.path.join(folder, "part"), "w").write("x")
        try:
            open("settings.cfg")  # a library trying where its settings might be
        except FileNotFoundError:
            pass
        open("kept.txt", "w").write("kept")
        fl.finish()
        """,
    )
    assert done.returncode == 0, done.stderr
    run = fl.Run.filter().one()
    assert files_of(run) == ({str(tmp_path / "scratch-input.txt")}, {str(tmp_path / "kept.txt")})
    gone = run.inputs.one()
    assert (gone.state, gone.hash) == ("deleted", digest)  # hashed just before it was removed
    assert "missing_inputs" not in run.json and "missing_outputs" not in run.json


def test_an_input_deleted_by_another_process_is_a_deleted_node_or_missing(tmp_path):
    (tmp_path / "known.txt").write_text("made by an earlier step\n")
    (tmp_path / "unknown.txt").write_text("never recorded\n")
    earlier = fl.Run(fl.Transform(name="earlier step").save()).save()
    earlier.outputs.add(tmp_path / "known.txt")
    done = run_script(
        tmp_path,
        """
        import subprocess
        fl.track()
        open("known.txt").read()
        open("unknown.txt").read()
        subprocess.run(["rm", "known.txt", "unknown.txt"], check=True)  # not seen: another process
        fl.finish()
        """,
    )
    assert done.returncode == 0, done.stderr
    run = fl.Run.filter(transform__name="analysis.py").one()
    known = fl.Artifact.get(path=str(tmp_path / "known.txt"))
    assert list(run.inputs) == [known] and known.state == "deleted" and known.run == earlier
    assert run.json["missing_inputs"] == [f"{tmp_path / 'unknown.txt'}: no such file or folder"]


def test_a_file_written_under_a_temporary_name_then_renamed_is_an_output(tmp_path):
    done = run_script(
        tmp_path,
        """
        import os
        fl.track()
        with open("table.csv.tmp", "w") as file:
            file.write("a,b\\n")
        os.replace("table.csv.tmp", "table.csv")
        os.makedirs("sub")
        os.chdir("sub")  # relative paths after a chdir are where they were opened
        open("inside.txt", "w").write("x")
        os.rename("inside.txt", "renamed.txt")
        fl.finish()
        """,
    )
    assert done.returncode == 0, done.stderr
    assert files_of(fl.Run.filter().one()) == (set(), {str(tmp_path / "table.csv"), str(tmp_path / "sub/renamed.txt")})


def test_files_opened_in_threads_are_captured_and_a_forked_childs_are_not(tmp_path):
    (tmp_path / "in.txt").write_text("x")
    done = run_script(
        tmp_path,
        """
        import os, sys, threading
        fl.track()
        reader = threading.Thread(target=lambda: open("in.txt").read())
        reader.start()
        reader.join()
        child = os.fork()
        if child == 0:
            open("child.txt", "w").write("the child's")
            sys.exit(0)  # its exit is not the end of the parent's run
        os.waitpid(child, 0)
        open("parent.txt", "w").write("the parent's")
        fl.finish()
        """,
    )
    assert done.returncode == 0, done.stderr
    run = fl.Run.filter().one()
    assert run.status == "completed"
    assert files_of(run) == ({str(tmp_path / "in.txt")}, {str(tmp_path / "parent.txt")})


def test_an_errored_script_keeps_its_files(tmp_path):
    (tmp_path / "in.txt").write_text("x")
    done = run_script(
        tmp_path,
        """
        fl.track()
        open("partial.txt", "w").write(open("in.txt").read())
        raise RuntimeError("sample 3 failed")
        """,
    )
    assert done.returncode == 1 and "RuntimeError: sample 3 failed" in done.stderr
    run = fl.Run.filter().one()
    assert run.status == "errored" and run.error == "RuntimeError: sample 3 failed"
    assert files_of(run) == ({str(tmp_path / "in.txt")}, {str(tmp_path / "partial.txt")})


def test_files_added_by_hand_keep_their_role(tmp_path):
    """A file written by another process is not seen; adding it hashes it (a read), yet it stays an output."""
    (tmp_path / "in.txt").write_text("x")
    done = run_script(
        tmp_path,
        """
        import subprocess
        run = fl.track()
        subprocess.run(["sh", "-c", "cat in.txt > made-by-a-tool.txt"], check=True)
        run.outputs.add("made-by-a-tool.txt")
        run.inputs.add("in.txt")
        open("in.txt").read()
        fl.finish()
        """,
    )
    assert done.returncode == 0, done.stderr
    assert files_of(fl.Run.filter().one()) == ({str(tmp_path / "in.txt")}, {str(tmp_path / "made-by-a-tool.txt")})
