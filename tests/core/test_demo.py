"""`make demo` runs `python -m flowledger.demo`: it must record and print the lineage it promises.

The demo runs real Snakemake 9 and redun, then a script with `fl.track()`: an end-to-end test (slow).
"""

import re
import shutil
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def demo():
    result = subprocess.run([sys.executable, "-m", "flowledger.demo"], capture_output=True, text=True, timeout=600)
    folder = re.match(r"A small analysis in (\S+),", result.stdout)
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield result
    finally:
        if folder:  # the demo keeps its folder for the user to go on asking; a test does not
            shutil.rmtree(folder.group(1), ignore_errors=True)


@pytest.mark.slow
def test_demo_records_a_run_and_prints_its_lineage(demo):
    result = demo
    lineage = result.stdout.split("$ flowledger lineage results/report.txt")[1].split("$ flowledger runs")[0]
    assert lineage.index("results/report.txt") < lineage.index("rule report") < lineage.index("results/unique.txt")
    assert lineage.index("rule dedupe") < lineage.index("data/reads.txt")
    assert "demo-pipeline" in result.stdout


@pytest.mark.slow
def test_the_lineage_goes_back_through_snakemake_redun_and_a_script(demo):
    lineage = demo.stdout.split("$ flowledger lineage results/report.txt")[1].split("$ flowledger runs")[0]
    order = [
        "results/report.txt",
        "script analysis.py [completed]",
        "results/summary.txt",
        "task demo.summarize [completed]",
        "results/matches.tsv",
        "rule report [completed]",
        "rule dedupe sample=brain [completed]",
        "brain/data/reads.txt",
    ]
    positions = [lineage.index(text) for text in order]
    assert positions == sorted(positions), lineage
    assert "rule dedupe sample=liver" in lineage and "reference.txt" in lineage


@pytest.mark.slow
def test_the_demo_lists_runs_verifies_and_writes_the_page(demo):
    runs = demo.stdout.split("$ flowledger runs --all")[1].split("$ flowledger verify")[0]
    for name in ("pipeline demo-pipeline", "rule dedupe\tsample=liver", "task demo.summarize", "script analysis.py"):
        assert name in runs, runs
    verified = demo.stdout.split("$ flowledger verify")[1]
    assert re.search(r"\d+ files: \d+ unchanged, 0 changed, 0 missing", verified), verified
    assert "lineage.html" in verified or "lacks: skipped" in verified
    page = re.search(r"The lineage page is (\S+): open it", verified)
    if page:
        assert "<html" in open(page.group(1)).read().lower()
