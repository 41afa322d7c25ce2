"""Hook implementations that the flowledger core loads through the `flowledger` entry point.

Only the CLI lives here: `flowledger redun import`, the intake for executions that ran without the
plugin. redun is imported when the command runs, never when the core loads this module.
"""

from __future__ import annotations

import click
from flowledger.plugin_api import db_option

from . import DEFAULT_DB_URI


def register_commands(cli: click.Group) -> None:
    @cli.group(name="redun")
    def redun_group() -> None:
        """Lineage of redun executions."""

    @redun_group.command(name="import")
    @click.option("--db-uri", default=DEFAULT_DB_URI, show_default=True, help="redun's database.")
    @click.option(
        "--execution",
        "execution",
        default=None,
        metavar="ID",
        help="Only this execution (id or unique prefix); default: all not yet in the ledger.",
    )
    @click.option(
        "--base-dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Where relative File paths start (default: the folder holding .redun/).",
    )
    @db_option
    def import_command(db_uri: str, execution: str | None, base_dir: str | None, db: str | None) -> None:
        """Record executions that ran without the plugin, from redun's database."""
        from .importer import NotARedunDatabase, import_executions

        try:
            done = import_executions(db_uri, execution=execution, base_dir=base_dir, ledger=db)
        except (FileNotFoundError, LookupError, NotARedunDatabase) as problem:
            raise click.ClickException(str(problem)) from None
        for item in done:
            if item.run_uid is None:
                click.echo(f"{item.execution_id}  already in the ledger, skipped")
            else:
                click.echo(f"{item.execution_id}  imported as run {item.run_uid} ({item.jobs} jobs)")
        if not done:
            click.echo("no redun executions found")
