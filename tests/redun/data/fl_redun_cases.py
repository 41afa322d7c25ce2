"""Test pipeline for the edge cases of the redun plugin (issues 9.1, 9.2, 9.7).

twins(): the same call, shared_write(path), made from two parents in one execution: redun runs it once
  and marks the second job cached.
scripted(): a `script()` whose output is staged (`File(...).stage(...)`), made by redun's `redun.script` job.
cleanup_flow(): make_tmp writes a file, consume reads it, clean deletes it later in the same execution.
write_to() and read_from(), linked_flow(): a file written through a symlinked folder (or the real one), read
  through the other (in two executions, or in one).
"""

import os

from redun import File, script

from flowledger_redun import task

redun_namespace = "fl_cases"


@task()
def shared_write(out_path: str) -> File:
    out = File(out_path)
    out.write("shared\n")
    return out


@task()
def parent_a(out_path: str) -> File:
    return shared_write(out_path)


@task()
def parent_b(out_path: str) -> File:
    return shared_write(out_path)


@task()
def twins(out_path: str = "out/shared.txt") -> list:
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    return [parent_a(out_path), parent_b(out_path)]


@task()
def scripted(out_path: str = "out/scripted.txt") -> File:
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    local = out_path + ".local"  # the script writes here; redun copies it to out_path (staging)
    return script(f"echo scripted > {local}", outputs=File(out_path).stage(local))


@task()
def make_tmp(out_path: str) -> File:
    out = File(out_path)
    out.write("temporary\n")
    return out


@task()
def consume(tmp: File, out_path: str) -> File:
    out = File(out_path)
    out.write(tmp.read().upper())
    return out


@task()
def clean(tmp: File, done: File) -> str:
    os.remove(tmp.path)
    return done.path


@task()
def cleanup_flow(outdir: str = "out") -> str:
    os.makedirs(outdir, exist_ok=True)
    tmp = make_tmp(os.path.join(outdir, "tmp.txt"))
    return clean(tmp, consume(tmp, os.path.join(outdir, "final.txt")))


@task()
def write_to(out_path: str) -> File:
    out = File(out_path)
    out.write("through a folder\n")
    return out


@task()
def read_from(path: File, out_path: str) -> File:
    out = File(out_path)
    out.write(path.read())
    return out


@task()
def read_after(path: File, after: File, out_path: str) -> File:
    out = File(out_path)
    out.write(path.read())
    return out


@task()
def linked_flow(write_path: str, read_path: str, copy_path: str) -> File:
    """One execution: write through one folder, read through the other once written."""
    return read_after(File(read_path), write_to(write_path), copy_path)
