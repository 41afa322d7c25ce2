"""`make demo` (or `python -m flowledger.demo`): record a tiny two-step pipeline into a fresh ledger, then print
its lineage.

Everything happens in a new temporary folder; the ledger is `<folder>/.flowledger/ledger.db`.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import flowledger as fl
from flowledger.plugin_api import Recorder, TransformSpec

folder = Path(tempfile.mkdtemp(prefix="flowledger-demo-"))
os.chdir(folder)
os.environ["FLOWLEDGER_DB"] = str(folder / ".flowledger" / "ledger.db")

Path("data").mkdir()
Path("data/reads.txt").write_text("ACGT\nTTGA\nACGT\n")
Path("data/reference.txt").write_text("ACGT\n")

recorder = Recorder()
workflow = recorder.start_run(
    TransformSpec(name="demo-pipeline", version="1.0", type="pipeline"), reference="demo-1", reference_type="url"
)

Path("results").mkdir()
reads = Path("data/reads.txt").read_text().split()
Path("results/unique.txt").write_text("\n".join(sorted(set(reads))) + "\n")
recorder.record_job(
    TransformSpec(name="dedupe", type="rule", source_code="sort -u {input} > {output}"),
    inputs=["data/reads.txt"],
    outputs=["results/unique.txt"],
    initiated_by=workflow,
)

reference = Path("data/reference.txt").read_text().split()
matches = [r for r in Path("results/unique.txt").read_text().split() if r in reference]
Path("results/report.txt").write_text(f"{len(matches)} of {len(reads)} reads match the reference\n")
recorder.record_job(
    TransformSpec(name="report", type="rule", source_code="grep -c -f {ref} {input} > {output}"),
    inputs=["results/unique.txt", "data/reference.txt"],
    outputs=["results/report.txt"],
    initiated_by=workflow,
)
recorder.finish_run(workflow)

print(f"Recorded into {os.environ['FLOWLEDGER_DB']}\n")
report = fl.Artifact.filter(path="results/report.txt").one()
print(f"results/report.txt was made by run {report.run.uid} of rule {report.run.transform.name!r}\n")
print("$ flowledger lineage results/report.txt", flush=True)
subprocess.run([sys.executable, "-m", "flowledger", "lineage", "results/report.txt"], check=True)
print("\n$ flowledger runs --all", flush=True)
subprocess.run([sys.executable, "-m", "flowledger", "runs", "--all"], check=True)
