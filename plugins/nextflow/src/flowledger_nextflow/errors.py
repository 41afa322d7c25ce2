"""The plugin's error type (a message naming the file, event or value at fault) and its warning line."""

import sys

from flowledger.plugin_api import InputError


class NextflowError(InputError):
    """Bad Nextflow input (malformed event, unreadable trace file, odd path) or a missing `nextflow`."""


def print_warning(message: str) -> None:
    """A recording problem that must not change the run: one line on stderr."""
    print(f"flowledger: WARNING: {message}", file=sys.stderr, flush=True)
