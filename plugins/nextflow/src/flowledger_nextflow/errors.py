"""The one error type of this plugin: a message that names the file, event or value at fault."""

try:  # the core's base class, so the CLI prints it as one line
    from flowledger.errors import InputError as _Base
except ImportError:  # pragma: no cover - the core is a dependency; this only guards partial installs
    _Base = ValueError


class NextflowError(_Base):
    """Bad Nextflow input (malformed event, unreadable trace file, odd path) or a missing `nextflow`."""
