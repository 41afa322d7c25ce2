"""`flowledger view`: the lineage of a file or a run as one self-contained HTML page.

A built-in plugin adding its command through `register_commands`, like any plugin's. The command (and
click) load only when the `flowledger` command starts: a process that only records does not pay for it.
"""

from typing import Any

from ..hookspecs import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from .view_cli import view_command

    cli.add_command(view_command)
