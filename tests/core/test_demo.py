"""`make demo` runs `python -m flowledger.demo`: it must record and print the lineage it promises."""

import subprocess
import sys


def test_demo_records_a_run_and_prints_its_lineage():
    result = subprocess.run([sys.executable, "-m", "flowledger.demo"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lineage = result.stdout.split("$ flowledger lineage results/report.txt")[1].split("$ flowledger runs")[0]
    assert lineage.index("results/report.txt") < lineage.index("rule report") < lineage.index("results/unique.txt")
    assert lineage.index("rule dedupe") < lineage.index("data/reads.txt")
    assert "demo-pipeline" in result.stdout
