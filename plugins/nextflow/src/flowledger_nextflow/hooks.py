"""The plugin's entry point. Its commands (and click) load only when the `flowledger` command starts, so a
process that only records, such as a script calling `fl.track()`, does not pay for them."""

from typing import Any

from flowledger.plugin_api import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from .commands import nextflow_group

    cli.add_command(nextflow_group)
