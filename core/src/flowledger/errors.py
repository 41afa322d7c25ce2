"""Errors that name the thing at fault; the CLI prints them as one line."""


class FlowledgerError(Exception):
    """Base class: a message a user can act on."""


class LedgerError(FlowledgerError):
    """The ledger file cannot be opened, read or written."""


class DoesNotExist(FlowledgerError):
    """A query that needed exactly one record found none."""


class MultipleResultsFound(FlowledgerError):
    """A query that needed exactly one record found several."""


class InputError(FlowledgerError):
    """Bad input: a missing or unreadable file, a malformed event, an odd path."""


class ServerUnreachable(LedgerError):
    """The ledger's PostgreSQL server cannot be reached, refused the connection, or went away."""
