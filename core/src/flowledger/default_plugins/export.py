"""`flowledger export`: a run, or a file's lineage, as OpenLineage, W3C PROV or a Workflow Run RO-Crate.

A built-in plugin adding its command through `register_commands`, like any plugin's. The command (and
click) load only when the `flowledger` command starts: a process that only records does not pay for it.
"""

from typing import Any

from ..hookspecs import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from .export_cli import export_command

    cli.add_command(export_command)
