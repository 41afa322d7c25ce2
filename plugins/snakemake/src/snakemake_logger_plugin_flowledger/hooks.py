"""Hook implementations that the flowledger core loads through the `flowledger` entry point.

Adds `flowledger snakemake handler-path`, which prints where the Snakemake 8 handler script is, for
`snakemake --log-handler-script "$(flowledger snakemake handler-path)"`. Imports no Snakemake. (No
command here takes a ledger: one that does gets `--db` from `flowledger.plugin_api.db_option`.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flowledger.plugin_api import hookimpl

if TYPE_CHECKING:
    import click

HANDLER8 = Path(__file__).resolve().with_name("handler8.py")


@hookimpl
def register_commands(cli: click.Group) -> None:
    import click

    @cli.group(name="snakemake")
    def snakemake_group() -> None:
        """Snakemake: record lineage with `snakemake --logger flowledger` (Snakemake 9)."""

    @snakemake_group.command(name="handler-path")
    def handler_path() -> None:
        """Print the Snakemake 8 handler script's path (for --log-handler-script)."""
        click.echo(str(HANDLER8))
