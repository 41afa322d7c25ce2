"""Test pipeline: fan-out over samples, fan-in, expression-returning tasks, deep nesting.

main(input_dir, outdir, fail_on, executor)
  count_words(sample) per sample      (fan-out 1, list comprehension; optionally on the process executor)
  normalize(counts) via map_          (fan-out 2; raises for the sample named by fail_on)
  merge_report(normed) -> report.tsv  (fan-in)
  summarize(...) -> level1 -> level2 -> write_summary  (a File returned through three levels)
main returns an expression, so its own result is known only once the children resolve.
race() fails in failer() while sleeper() still runs: redun stops, sleeper is left running.
note_via_child() writes a file and returns it through identity(): its result is an expression, and
only its evaluated value shows the file.
"""

import os
from collections import Counter
from typing import List

from redun import File
from redun.functools import map_

from flowledger_redun import task

redun_namespace = "fl_test"


@task(description="Count the words of one sample", key="counts")
def count_words(sample: File, outdir: str) -> File:
    """Count word frequencies of one sample file."""
    name = os.path.basename(sample.path).rsplit(".", 1)[0]
    counts = Counter(sample.read().split())
    os.makedirs(outdir, exist_ok=True)
    out = File(os.path.join(outdir, f"{name}.counts.tsv"))
    out.write("".join(f"{w}\t{n}\n" for w, n in sorted(counts.items())))
    return out


@task()
def normalize(counts: File, fail_on: str = "") -> File:
    """Turn counts into fractions. Raises when fail_on matches (failure scenario)."""
    if fail_on and fail_on in counts.path:
        raise ValueError(f"simulated failure for {counts.path}")
    rows = [line.split("\t") for line in counts.read().splitlines()]
    total = sum(int(n) for _, n in rows)
    out = File(counts.path.replace(".counts.tsv", ".norm.tsv"))
    out.write("".join(f"{w}\t{int(n) / total:.4f}\n" for w, n in rows))
    return out


@task()
def merge_report(normed: List[File], out_path: str) -> File:
    """Fan-in: merge all normalized tables into one report."""
    out = File(out_path)
    with out.open("w") as fh:
        for f in normed:
            fh.write(f"# {os.path.basename(f.path)}\n{f.read()}")
    return out


@task()
def write_summary(report: File, out_path: str) -> File:
    out = File(out_path)
    out.write(f"{len(report.read().splitlines())} lines\n")
    return out


@task()
def level2(report: File, out_path: str) -> File:
    return write_summary(report, out_path)


@task()
def level1(report: File, out_path: str) -> File:
    return level2(report, out_path)


@task()
def main(
    input_dir: str = "data", outdir: str = "out", fail_on: str = "", executor: str = "default"
) -> list:
    samples = [File(os.path.join(input_dir, fn)) for fn in sorted(os.listdir(input_dir))]
    counter = count_words if executor == "default" else count_words.options(executor=executor)
    counts = [counter(s, outdir) for s in samples]
    normed = map_(normalize.partial(fail_on=fail_on), counts)
    report = merge_report(normed, os.path.join(outdir, "report.tsv"))
    return [report, level1(report, os.path.join(outdir, "summary.txt"))]


@task(cache=False)
def sleeper(seconds: float, out_path: str) -> File:
    """Still running when its sibling fails: redun stops without waiting for it."""
    import time

    time.sleep(seconds)
    out = File(out_path)
    out.write("slept\n")
    return out


@task(cache=False)
def failer(sample: File) -> File:
    raise RuntimeError(f"cannot read {sample.path}")


@task(cache=False)
def race(input_dir: str = "data", outdir: str = "out") -> list:
    sample = File(os.path.join(input_dir, "sample_A.txt"))
    return [sleeper(2.0, os.path.join(outdir, "slept.txt")), failer(sample)]


@task()
def identity(f: File) -> File:
    return f


@task()
def note_via_child(out_path: str = "out/note.txt") -> File:
    """Writes a file, and returns it through a child: an expression, evaluated after this job."""
    note = File(out_path)
    note.write("note\n")
    return identity(note)
