"""`python -m flowledger` is the `flowledger` command."""

from .cli import cli

cli()
