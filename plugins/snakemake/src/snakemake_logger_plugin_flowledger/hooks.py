"""Hook implementations that the flowledger core loads through the `flowledger` entry point.

Adds `flowledger snakemake handler-path`, which prints where the Snakemake 8 handler script is, for
`snakemake --log-handler-script "$(flowledger snakemake handler-path)"`. Imports no Snakemake.
"""

from __future__ import annotations

from pathlib import Path

from flowledger.plugin_api import hookimpl

HANDLER8 = Path(__file__).resolve().with_name("handler8.py")


@hookimpl
def register_commands(cli):
    import click

    @cli.group(name="snakemake")
    def snakemake_group():
        """Snakemake: record lineage with `snakemake --logger flowledger` (Snakemake 9)."""

    @snakemake_group.command(name="handler-path")
    def handler_path():
        """Print the Snakemake 8 log handler script's path (for --log-handler-script)."""
        click.echo(str(HANDLER8))
