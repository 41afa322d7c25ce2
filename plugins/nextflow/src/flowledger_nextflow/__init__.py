"""flowledger plugin for Nextflow: hook config, live weblog receiver, importer of past runs, runner.

    import flowledger_nextflow
    run = flowledger_nextflow.run("main.nf", params={"reads": "data/*.fastq"})
"""

from .errors import NextflowError


def run(*args, **kwargs):
    """Run `nextflow run` as a subprocess and return the recorded Run (see `runner.run`)."""
    from .runner import run as _run

    return _run(*args, **kwargs)


__all__ = ["NextflowError", "run"]
