"""A ledger for the lineage page's tests, recorded through the real Recorder (as the plugins record).

Run as a script (`python view_samples.py ROOT DB`), so that the process that started the `report` job is
gone when the tests look: that job is then `unfinished`. Prints the run uids and file paths as JSON.

    wf-0  variant-calling (Snakemake)   index: genome.fa -> genome.fa.fai
    wf-1  variant-calling (Snakemake), errored
          index (cached: wrote genome.fa.fai again, the same bytes)
          trim A, trim B:   data/X.fq -> trimmed/X.fq          (trimmed/B.fq is a temp file, deleted)
          align A, align B: trimmed/X.fq (+ genome.fa, .fai) -> aligned/X.bam
          call A: aligned/A.bam -> calls/A.vcf                 (changed on disk afterwards)
          call B: errored, exit code 1
          report: reads calls/A.vcf, started and never finished (unfinished)
    plot.py (a tracked script): calls/A.vcf -> plots/A.png
(A uniquely named module: test folders share one namespace.)
"""

import json
import sys
from pathlib import Path

from flowledger.plugin_api import Recorder, TransformSpec

SNAKEFILE = """rule trim:
    input: "data/{sample}.fq"
    output: temp("trimmed/{sample}.fq")
    shell: "cutadapt -q 20 -o {output} {input}"
"""
CALL_ERROR = "bcftools call: </script><b>no such contig</b> 'chr9' in aligned/B.bam"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def record(root: Path, db: Path) -> dict:
    genome, fai = write(root / "ref/genome.fa", ">chr1\nACGT\n"), write(root / "ref/genome.fa.fai", "chr1\t4\n")
    reads = {s: write(root / f"data/{s}.fq", f"@{s}\nACGT\n+\nIIII\n") for s in "AB"}
    rec = Recorder(db)
    pipeline = TransformSpec(
        "variant-calling",
        type="pipeline",
        source_code=SNAKEFILE,
        reference=str(root / "Snakefile"),
        reference_type="snakefile",
    )
    rules = {
        name: TransformSpec(name, type="rule", source_code=code, reference_type="snakemake_rule")
        for name, code in (
            ("index", "samtools faidx {input}"),
            ("trim", "cutadapt -q 20 -o {output} {input}"),
            ("align", "bwa mem {input.ref} {input.reads} | samtools sort -o {output}"),
            ("call", "bcftools mpileup -f {input.ref} {input.bam} | bcftools call -mv -o {output}"),
            ("report", "python report.py {input} > {output}"),
        )
    }

    def job(workflow, rule, n, sample=None, **fields):
        data = {"rule": rule, "jobid": n, "wildcards": {"sample": sample} if sample else {}, "threads": 1}
        if rule == "trim":
            data["params"] = {"quality": 20}
        return rec.record_job(
            rules[rule],
            initiated_by=workflow,
            reference=f"{workflow}/{n}",
            reference_type="snakemake_job",
            json=data,
            started_at=f"2025-01-15T14:3{n}:00+00:00",
            finished_at=f"2025-01-15T14:3{n}:42+00:00",
            **fields,
        )

    earlier = rec.start_run(
        pipeline,
        reference="wf-0",
        reference_type="snakemake_id",
        started_at="2025-01-14T09:00:00+00:00",
        json={"snakemake_version": "9.27.1"},
    )
    first_index = job(earlier, "index", 1, inputs=[genome], outputs=[fai])
    rec.finish_run(earlier, finished_at="2025-01-14T09:05:00+00:00")

    workflow = rec.start_run(
        pipeline,
        reference="wf-1",
        reference_type="snakemake_id",
        started_at="2025-01-15T14:29:00+00:00",
        json={"snakemake_version": "9.27.1", "cmd": "snakemake --cores 2"},
    )
    jobs = {"index": job(workflow, "index", 0, inputs=[genome], outputs=[fai], status="cached")}
    trimmed, aligned = {}, {}
    for n, sample in enumerate("AB", start=1):
        trimmed[sample] = write(root / f"trimmed/{sample}.fq", f"@{sample}\nACG\n+\nIII\n")
        jobs[f"trim {sample}"] = job(workflow, "trim", n, sample, inputs=[reads[sample]], outputs=[trimmed[sample]])
    trimmed["B"].unlink()  # temp(): gone before its reader is recorded
    for n, sample in enumerate("AB", start=3):
        aligned[sample] = write(root / f"aligned/{sample}.bam", f"BAM {sample}\n")
        inputs = [trimmed[sample], genome] + ([fai] if sample == "A" else [])
        jobs[f"align {sample}"] = job(workflow, "align", n, sample, inputs=inputs, outputs=[aligned[sample]])
    calls = write(root / "calls/A.vcf", "##fileformat=VCFv4.2\nchr1\t2\t.\tC\tT\n")
    jobs["call A"] = job(workflow, "call", 5, "A", inputs=[aligned["A"], genome], outputs=[calls])
    jobs["call B"] = job(
        workflow, "call", 6, "B", inputs=[aligned["B"], genome], status="errored", exit_code=1, error=CALL_ERROR
    )
    jobs["report"] = rec.start_run(
        rules["report"],
        initiated_by=workflow,
        reference=f"{workflow}/7",
        reference_type="snakemake_job",
        started_at="2025-01-15T14:37:00+00:00",
        json={"rule": "report", "jobid": 7, "wildcards": {}},
    )
    rec.add_inputs(jobs["report"], [calls])
    rec.finish_run(workflow, status="errored", error="1 of 8 jobs failed", finished_at="2025-01-15T14:38:00+00:00")

    plot = write(root / "plots/A.png", "PNG\n")
    script = rec.record_job(
        TransformSpec("plot.py", type="script", source_code="import matplotlib\n"),
        inputs=[calls],
        outputs=[plot],
        json={"params": {"dpi": 150}},
    )
    rec.close()
    calls.write_text("##fileformat=VCFv4.2\nchr1\t2\t.\tC\tG\n")  # changed after it was recorded
    paths = {
        "genome": genome,
        "fai": fai,
        "trimmed B": trimmed["B"],
        "calls": calls,
        "plot": plot,
        "aligned A": aligned["A"],
    }
    return {
        "earlier": earlier,
        "first index": first_index,
        "workflow": workflow,
        "jobs": jobs,
        "script": script,
        "files": {name: str(path) for name, path in paths.items()},
    }


if __name__ == "__main__":
    print(json.dumps(record(Path(sys.argv[1]), Path(sys.argv[2]))))
