"""`flowledger copy` and `flowledger push`: runs from one ledger into another, and a server ledger's spool.

A built-in plugin adding its commands through `register_commands`, like any plugin's. The commands (and
click) load only when the `flowledger` command starts: a process that only records does not pay for them.
"""

from typing import Any

from ..hookspecs import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from .copy_cli import copy_command, push_command

    cli.add_command(copy_command)
    cli.add_command(push_command)
