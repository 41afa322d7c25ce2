"""`flowledger copy` and `flowledger push`: runs from one ledger into another (a project's into a team's), and
the runs a server ledger kept in its local spool while the server was unreachable, to the server.

A built-in plugin adding its commands through `register_commands`, like any plugin's. The work is in
`flowledger.copying`; click and rich are imported only here.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from ..clitools import db_option
from ..copying import CopyReport, Progress, copy_runs, push_spool, runs_to_copy, spool_path
from ..errors import FlowledgerError
from ..location import ServerLedger, resolve_ledger_path
from ..store import Ledger, open_ledger

LEDGER = "a ledger file, or a postgresql:// URL"


@click.command("copy")
@click.option("--from", "source", required=True, metavar="LEDGER", help=f"The ledger to copy from: {LEDGER}.")
@click.option(
    "--to", "target", required=True, metavar="LEDGER", help=f"The ledger to copy into ({LEDGER}; a new file is made)."
)
@click.argument("run_uids", nargs=-1, metavar="[RUN_UID]...")
def copy_command(source, target, run_uids):
    """Copy runs, with their transforms, files, collections and links, into another ledger: all of them, or
    each RUN_UID (a unique prefix does) with its jobs and the runs above it.

    Copying again copies nothing new. A record the target already holds with other content is listed as a
    conflict, and left as it is (exit status 1).
    """
    where = _where(source, "--from")
    if isinstance(where, Path) and not where.is_file():
        raise FlowledgerError(f"no ledger at {where}: nothing to copy from")
    with _opened(where) as from_ledger:
        if run_uids:
            runs_to_copy(from_ledger, run_uids)  # a uid it does not have fails before the target is made
        with _opened(_where(target, "--to")) as to_ledger, _progress() as progress:
            report = copy_runs(from_ledger, to_ledger, list(run_uids) or None, progress=progress)
    _show(report)


@click.command("push")
@db_option
def push_command(db):
    """Send the runs recorded while the server ledger (--db, or $FLOWLEDGER_DB, a postgresql:// URL) was
    unreachable, kept in a local spool, to the server; the spool is removed once all of it is there."""
    where = resolve_ledger_path(db)
    if not isinstance(where, ServerLedger):
        raise FlowledgerError(
            f"{where} is a ledger file: push sends the spool of a server ledger (--db postgresql://...)"
        )
    spool = spool_path(where)
    if not spool.exists():
        click.echo(f"nothing to push: no spool for {where}")
        return
    with _opened(where) as ledger, _progress() as progress:
        report = push_spool(Ledger(spool), ledger, progress=progress)
    _show(report, kept=f"the spool stays at {spool}; push again once they are resolved")


def _where(text: str, option: str) -> Path | ServerLedger:
    if not text.strip():
        raise click.BadParameter("give a ledger file or a postgresql:// URL", param_hint=option)
    return resolve_ledger_path(text)


@contextlib.contextmanager
def _opened(where: Path | ServerLedger) -> Iterator:
    ledger = open_ledger(where, spool=False)  # a server out of reach is an error here, not a spool
    try:
        yield ledger
    finally:
        ledger.close()


@contextlib.contextmanager
def _progress() -> Iterator[Progress | None]:
    """A progress bar over the runs on stderr, when it is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress as Bar

    with Bar(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("copying runs", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _show(report: CopyReport, kept: str = "") -> None:
    """The summary, then each conflict; exit status 1 if there were any."""
    click.echo(report.summary())
    for conflict in report.conflicts:
        click.echo(f"conflict: {conflict}")
    if report.conflicts:
        if kept:
            click.echo(kept, err=True)
        sys.exit(1)
