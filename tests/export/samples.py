"""Small ledgers for the export tests, recorded through the real Recorder (as the plugins record).

`snakemake_like(root)`: a Snakemake-shaped workflow run with a completed, a failed, a cached and a still
running job; `files` maps short names to paths. (A uniquely named module: test folders share one namespace.)
"""

from dataclasses import dataclass, field
from pathlib import Path

from flowledger.plugin_api import Recorder, TransformSpec

SNAKEFILE = (
    'rule upper:\n    input: "data/a.txt"\n    output: "results/a.txt"\n    shell: "tr a-z A-Z < {input} > {output}"\n'
)


@dataclass
class Sample:
    workflow: str  # run uids
    jobs: dict[str, str]
    files: dict[str, Path] = field(default_factory=dict)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def snakemake_like(root: Path, db: Path) -> Sample:
    files = {
        "a": write(root / "data/a.txt", "alpha\n"),
        "b": write(root / "data/b.txt", "beta\n"),
        "upper_a": write(root / "results/a.txt", "ALPHA\n"),
        "upper_b": write(root / "results/b.txt", "BETA\n"),
        "log": write(root / "logs/upper_a.log", "ok\n"),
    }
    rec = Recorder(db)
    pipeline = TransformSpec(
        "variant-calling",
        type="pipeline",
        source_code=SNAKEFILE,
        reference=str(root / "Snakefile"),
        reference_type="snakefile",
        description="Snakemake workflow variant-calling",
    )
    rule = TransformSpec(
        "upper",
        type="rule",
        source_code="tr a-z A-Z < {input} > {output}",
        description="Snakemake rule upper (shell)",
        reference_type="snakemake_rule",
    )
    workflow = rec.start_run(
        pipeline,
        reference="2f1c0c9e-wf",
        reference_type="snakemake_id",
        started_at="2025-01-15T14:30:00+00:00",
        json={"snakemake_version": "9.27.1", "host": "node1", "cmd": "snakemake --cores 2"},
    )
    jobs = {
        "done": rec.record_job(
            rule,
            inputs=[files["a"]],
            outputs=[files["upper_a"]],
            logs=[files["log"]],
            initiated_by=workflow,
            reference="2f1c0c9e-wf/1",
            reference_type="snakemake_job",
            started_at="2025-01-15T14:30:01+00:00",
            finished_at="2025-01-15T14:30:05+00:00",
        ),
        "failed": rec.record_job(
            rule,
            inputs=[files["b"]],
            initiated_by=workflow,
            reference="2f1c0c9e-wf/2",
            reference_type="snakemake_job",
            status="errored",
            exit_code=3,
            error="Command 'tr' returned non-zero exit status 3.",
            started_at="2025-01-15T14:30:01+00:00",
            finished_at="2025-01-15T14:30:02+00:00",
        ),
        "cached": rec.record_job(
            rule,
            inputs=[files["a"]],
            outputs=[files["upper_a"]],
            initiated_by=workflow,
            reference="2f1c0c9e-wf/3",
            reference_type="snakemake_job",
            status="cached",
            started_at="2025-01-15T14:30:06+00:00",
            finished_at="2025-01-15T14:30:06+00:00",
        ),
        "running": rec.start_run(
            rule,
            initiated_by=workflow,
            reference="2f1c0c9e-wf/4",
            reference_type="snakemake_job",
            started_at="2025-01-15T14:30:07+00:00",
        ),
    }
    rec.add_inputs(jobs["running"], [files["b"]])
    rec.finish_run(workflow, status="errored", error="1 of 4 jobs failed", finished_at="2025-01-15T14:31:10+00:00")
    rec.close()
    return Sample(workflow, jobs, files)
