"""The plugin's entry point. Its command (and click) load only when the `flowledger` command starts, so a
process that only records does not pay for them."""

from typing import Any

from flowledger.plugin_api import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from .commands import register_commands as add_commands

    add_commands(cli)
