"""`make demo` (or `python -m flowledger.demo`): one small analysis across three tools, recorded into one
ledger, then asked about.

In a new temporary folder: a Snakemake workflow (`demo-pipeline`) removes duplicate reads of two samples
(`rule dedupe`, one job per sample) and counts the reads that match a reference (`rule report`); a redun
task reads those counts and sums them up; a Python script with `fl.track()` reads the sum and writes the
final report, `results/report.txt`. Then `flowledger lineage results/report.txt` (back through all three
tools to the raw reads), `flowledger runs --all`, `flowledger verify`, and the lineage page
(`flowledger view`, when it is installed).

Snakemake 9 and redun run for real, from the environment `make setup` made (`make demo` runs it first).
The ledger is `<folder>/.flowledger/ledger.db`; the folder is kept, so you can go on asking.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent
SAMPLES = {"liver": "ACGT\nTTGA\nACGT\nGGCC\n", "brain": "TTGA\nTTGA\nCATG\n"}

SNAKEFILE = """\
SAMPLES = ["liver", "brain"]

rule all:
    input: "results/matches.tsv"

rule dedupe:
    input: "{sample}/data/reads.txt"
    output: "{sample}/results/unique.txt"
    shell: "sort -u {input} > {output}"

rule report:
    input: reads=expand("{sample}/results/unique.txt", sample=SAMPLES), reference="reference.txt"
    output: "results/matches.tsv"
    shell: "grep -c -x -f {input.reference} {input.reads} | tr ':' '\\t' > {output}"
"""

WORKFLOW = """\
from redun import File
from flowledger_redun import task

redun_namespace = "demo"


@task(description="Sum the matching reads of every sample")
def summarize(matches: File) -> File:
    rows = [line.split("\\t") for line in matches.read().splitlines()]
    out = File("results/summary.txt")
    out.write(f"{sum(int(count) for _, count in rows)} matching reads in {len(rows)} samples\\n")
    return out


@task()
def main() -> File:
    return summarize(File("results/matches.tsv"))
"""

REDUN_INI = """\
[scheduler]
setup_scheduler = flowledger_redun::setup_scheduler
"""

SCRIPT = """\
import flowledger as fl

run = fl.track()                               # this script becomes a Transform, this execution a Run
run.inputs.add("results/summary.txt")
summary = open("results/summary.txt").read().strip()
with open("results/report.txt", "w") as out:
    out.write(f"Report: {summary}.\\n")
run.outputs.add("results/report.txt")
fl.finish()
"""


def say(text: str = "") -> None:
    print(text, flush=True)


def step(shown: str, command: list[str]) -> int:
    """Run `command`, showing it as `$ shown`; its output is shown only if it fails (Snakemake's and
    redun's logs are long)."""
    say(f"\n$ {shown}")
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        say(done.stdout + done.stderr)
    return done.returncode


def flowledger(*args: str) -> int:
    """`flowledger ARGS`, run in this process (a new one would import everything again)."""
    from flowledger.cli import cli

    say(f"\n$ flowledger {' '.join(args)}")
    try:
        cli.main(list(args), prog_name="flowledger", standalone_mode=False)
    except SystemExit as end:
        return end.code if isinstance(end.code, int) else 1
    finally:
        sys.stdout.flush()
    return 0


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="flowledger-demo-"))
    os.chdir(folder)
    os.environ["FLOWLEDGER_DB"] = str(folder / ".flowledger" / "ledger.db")
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    say(f"A small analysis in {folder}, recorded by flowledger across Snakemake, redun and a script.")

    for sample, reads in SAMPLES.items():
        Path(sample, "data").mkdir(parents=True)
        Path(sample, "data", "reads.txt").write_text(reads)
    Path("reference.txt").write_text("ACGT\nTTGA\n")
    Path("Snakefile").write_text(SNAKEFILE)
    Path("workflow.py").write_text(WORKFLOW)
    Path("analysis.py").write_text(SCRIPT)
    Path(".redun").mkdir()
    Path(".redun/redun.ini").write_text(REDUN_INI)

    failed = flowledger("init")
    failed = failed or step(
        "snakemake --cores 1 --logger flowledger --logger-flowledger-name demo-pipeline   # 1. Snakemake",
        [str(BIN / "snakemake"), "--cores", "1", "--logger", "flowledger", "--logger-flowledger-name", "demo-pipeline"],
    )
    say("\n$ cat .redun/redun.ini        # redun records into the ledger through this line")
    say(REDUN_INI.rstrip())
    failed = failed or step(
        "redun run workflow.py main   # 2. a redun task reads Snakemake's counts",
        [str(BIN / "redun"), "run", "workflow.py", "main"],
    )
    failed = failed or step(
        "python analysis.py           # 3. a script with fl.track() reads redun's sum",
        [sys.executable, "analysis.py"],
    )
    if failed:
        say("\nThe demo stopped: a step failed (its output is above).")
        return 1

    say("\nWhere did results/report.txt come from? Back through all three tools to the raw reads:")
    flowledger("lineage", "results/report.txt")
    flowledger("runs", "--all")
    say("\nAre the files still what the ledger says? (Exit status 1 if one changed or is missing.)")
    flowledger("verify")
    _page()
    say(f"\nThe ledger is {os.environ['FLOWLEDGER_DB']}. To go on asking:")
    say(f"  cd {folder} && flowledger show results/matches.tsv")
    return 0


def _page() -> None:
    """The lineage page, when the `view` command is installed (a plugin may add it)."""
    from flowledger.cli import cli

    if "view" not in cli.commands:
        say("\n(The lineage page needs the `flowledger view` command, which this installation lacks: skipped.)")
        return
    page = Path("lineage.html").absolute()
    failed = step(
        "flowledger view results/report.txt -o lineage.html",
        [sys.executable, "-m", "flowledger", "view", "results/report.txt", "-o", str(page)],
    )
    if not failed and page.exists():
        say(f"The lineage page is {page}: open it in a browser.")
    else:
        say("The lineage page could not be written (the output above says why).")


if __name__ == "__main__":
    sys.exit(main())
