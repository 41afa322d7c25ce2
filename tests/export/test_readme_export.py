"""The README's "Export" commands work as printed (RUN_UID, the file and Marquez's URL filled in)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from receiver import Receiver

README = Path(__file__).resolve().parents[2] / "README.md"


def export_commands() -> list[str]:
    section = README.read_text().split("## Export\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [re.sub(r"\s+# .*$", "", line) for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_the_readme_export_commands_run(sample, tmp_path, ledger_path):
    commands = export_commands()
    assert len(commands) == 6
    os.makedirs(tmp_path / "work" / "results")
    report = sample.files["upper_a"]
    with Receiver() as marquez:
        env = {
            **os.environ,
            "FLOWLEDGER_DB": str(ledger_path),
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        }
        for command in commands:
            line = command.replace("RUN_UID", sample.workflow).replace("results/report.txt", str(report))
            line = line.replace("http://localhost:5000", marquez.url)
            done = subprocess.run(
                ["bash", "-c", line], cwd=tmp_path / "work", env=env, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, f"{line}: {done.stderr}"
        posted = marquez.wait_for(9)
    work = tmp_path / "work"
    assert (work / "run.jsonl").read_text().count("\n") == 9 == len(posted)
    assert (work / "lineage.jsonl").stat().st_size and (work / "run.prov.json").stat().st_size
    assert (work / "run-crate" / "ro-crate-metadata.json").exists() and (work / "run-crate.zip").exists()
