"""`flowledger view`: the lineage of a file or a run as one self-contained HTML page.

A built-in plugin adding its command through `register_commands`; the page is built in `flowledger.page`.
"""

from __future__ import annotations

import click

from ..clitools import db_option


@click.command("view")
@click.argument("target", metavar="PATH|RUN_UID")
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="The HTML file to write. Default: ./lineage-<uid or file name>.html.",
)
@click.option("--downstream", is_flag=True, help="Also show what was made from it (its descendants).")
@click.option("--open", "open_page", is_flag=True, help="Open the page in the web browser.")
@click.option("--no-check", is_flag=True, help="Do not compare the files with the disk (changed, missing).")
@db_option
def view_command(target, out, downstream, open_page, no_check, db):
    """Write the lineage graph of the file at PATH (back to its raw inputs), or of run RUN_UID (its jobs,
    and every file they read and wrote), as one HTML page that works offline.

    Runs are coloured by status and shaped by workflow manager; a workflow run's jobs are drawn in a box;
    deleted, missing and changed files are marked. Click a node for its fields; search by name.
    """
    from ..page import write  # the page's module only when the command runs

    path, data = write(target, out, db=db, downstream=downstream, check_files=not no_check)
    counts = data["counts"]
    click.echo(f"Wrote {path} ({counts['runs']} runs, {counts['artifacts']} files)", err=True)
    if open_page:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
