"""What a flowledger plugin can implement (entry-point group `flowledger`); `core/docs/plugins.md` shows each."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pluggy import HookimplMarker, HookspecMarker

if TYPE_CHECKING:  # only for the signatures: the hooks module imports nothing heavy
    import click

    from .migrations import Migrations
    from .models import Artifact, Run

hookspec = HookspecMarker("flowledger")
hookimpl = HookimplMarker("flowledger")


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click sub-commands to the `flowledger` command group."""


@hookspec
def register_migrations(register: Callable[[Migrations], None]) -> None:
    """Call `register(migrations)` with a `Migrations` set (or sqlite-utils' own) of the plugin's tables."""


@hookspec(firstresult=True)
def compute_hash(path: str) -> tuple[str, str] | None:
    """Return `(hash, hash_type)` for the file at `path`. Stops at first non-None result."""


@hookspec
def run_started(run: Run) -> None:
    """A Run was recorded as started (or recorded whole, as a finished job)."""


@hookspec
def run_finished(run: Run) -> None:
    """A Run reached a final status: completed, errored, aborted or cached."""


@hookspec
def artifact_recorded(artifact: Artifact, run: Run, role: str) -> None:
    """An Artifact was linked to `run` as `role`: "input", "output" or "replicated"."""
