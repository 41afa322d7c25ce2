"""What the `flowledger` sub-commands share: `--db` (the core's and the plugins'), `--utc`, and output.

`flowledger --db X CMD` and `flowledger CMD --db X` mean the same; the command receives `db` (None: the
ledger is found as everywhere, from $FLOWLEDGER_DB, the nearest .flowledger/, or the per-user default).
"""

import functools
import json
import sys
from collections.abc import Iterable

import click

from . import render
from .listing import RunRow
from .location import ENV_VAR, LEDGER_NAME, PROJECT_DIR

DB_HELP = (
    f"Ledger file, or a postgresql:// URL (default: ${ENV_VAR}, the nearest {PROJECT_DIR}/{LEDGER_NAME}, or a "
    "per-user ledger). "
    "May also be given before the sub-command."
)
UTC_HELP = "Times in UTC (default: your local time zone). May also be given before the sub-command."


def db_option(command):
    """Give `command` a `--db` option that falls back to the one given to `flowledger` itself."""

    @click.option("--db", "db", type=click.Path(dir_okay=True), default=None, help=DB_HELP)
    @functools.wraps(command)
    def with_db(*args, db=None, **kwargs):
        if db is None:
            root = click.get_current_context().find_root()
            db = root.params.get("db")
        return command(*args, db=db, **kwargs)

    return with_db


def utc_option(command):
    """`--utc` on a sub-command, or on `flowledger` itself."""

    @click.option("--utc", "utc", is_flag=True, default=None, help=UTC_HELP)
    @functools.wraps(command)
    def with_utc(*args, utc=None, **kwargs):
        if not utc:
            utc = bool(click.get_current_context().find_root().params.get("utc"))
        return command(*args, utc=utc, **kwargs)

    return with_utc


def emit_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def is_terminal() -> bool:
    return sys.stdout.isatty()


class Lines:
    """Lines to stdout as they come: the first one at once, then in the stream's buffer (not one system
    call per line, as click.echo's flush would make)."""

    def __init__(self):
        self.stream = sys.stdout
        self.written = 0

    def write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.written += 1
        if self.written == 1:
            self.stream.flush()

    def all(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)
        self.stream.flush()


def limit_value(value: int) -> int | None:
    if value < 0:
        raise click.BadParameter("give a number of rows, or 0 for no limit", param_hint="--limit")
    return value or None


def run_details(row: RunRow) -> str:
    detail = render.job_detail(row.wildcards, row.tag)
    if row.error and row.state in ("errored", "aborted"):
        more = f"error: {row.error_line}"
    elif row.initiated_by is None and row.reference:
        more = f"{row.reference_type}={row.reference}"
    else:
        return detail
    return f"{detail}; {more}" if detail else more


def job_name(row: RunRow) -> list[str]:
    return [
        render.transform_text(row.transform_type, row.transform, row.transform_version, row.explicit_version),
        run_details(row),
    ]
