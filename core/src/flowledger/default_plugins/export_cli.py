"""`flowledger export`: a run, or a file's lineage, as OpenLineage, W3C PROV or a Workflow Run RO-Crate.

A built-in plugin adding its command through `register_commands`, like any plugin's. The work is in
`flowledger.exporting` (what to export) and one module per format; click is imported only here.
"""

from __future__ import annotations

import sys

import click

from ..clitools import db_option
from ..exporting import FORMATS, export


@click.command("export")
@click.argument("target", metavar="RUN_UID|PATH")
@click.option(
    "--format", "fmt", type=click.Choice(list(FORMATS)), default="openlineage", show_default=True, help="Output format."
)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=True, allow_dash=True),
    default=None,
    help="Output file (rocrate: a folder, or a .zip). Default: stdout; rocrate: ./crate-<uid or file name>.",
)
@click.option("--with-files", is_flag=True, help="rocrate: copy the data files into the crate (an attached crate).")
@click.option("--license", "license_", help="rocrate: the license of the data, a URL or a text.")
@db_option
def export_command(target, fmt, out, with_files, license_, db):
    """Export run RUN_UID (with its job runs, their code, inputs and outputs), or the lineage of the file at
    PATH back to its raw inputs, across workflow managers.

    openlineage: JSON Lines, one RunEvent per line (POST them to Marquez, or any OpenLineage consumer).
    prov-json, prov-n, prov-o: W3C PROV (PROV-O as Turtle). rocrate: a Provenance Run Crate folder.
    """
    options: dict = {"progress": sys.stderr.isatty()}
    if fmt == "rocrate":
        out = out or f"crate-{target.rstrip('/').rsplit('/', 1)[-1]}"
        options.update(with_files=with_files, license=license_)
    elif with_files or license_:
        raise click.UsageError("--with-files and --license are options of --format rocrate")
    export(target, fmt, out if out is not None else "-", db=db, **options)
    if fmt == "rocrate":
        click.echo(f"Wrote {out}", err=True)
