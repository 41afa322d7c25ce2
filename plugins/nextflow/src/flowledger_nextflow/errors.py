"""The plugin's error type: a message naming the file, event or value at fault."""

from flowledger.plugin_api import InputError


class NextflowError(InputError):
    """Bad Nextflow input (malformed event, unreadable trace file, odd path) or a missing `nextflow`."""
