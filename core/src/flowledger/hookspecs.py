"""What a flowledger plugin can implement (entry-point group `flowledger`)."""

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("flowledger")
hookimpl = HookimplMarker("flowledger")


@hookspec
def register_commands(cli):
    """Add click sub-commands to the `flowledger` command group."""


@hookspec
def register_migrations(register):
    """Call `register(migrations)` with a `sqlite_utils.migrations.Migrations` set for the ledger."""


@hookspec(firstresult=True)
def compute_hash(path):
    """Return `(hash, hash_type)` for the file at `path`. Stops at first non-None result."""


@hookspec
def run_started(run):
    """A Run was recorded as started (or recorded whole, as a finished job)."""


@hookspec
def run_finished(run):
    """A Run reached a final status: completed, errored, aborted or cached."""


@hookspec
def artifact_recorded(artifact, run, role):
    """An Artifact was linked to `run` as `role`: "input", "output" or "replicated"."""
