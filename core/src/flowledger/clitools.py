"""What every `flowledger` sub-command shares, the core's and the plugins': one `--db` option.

`flowledger --db X CMD` and `flowledger CMD --db X` mean the same; the command receives `db` (None: the
ledger is found as everywhere, from $FLOWLEDGER_DB, the nearest .flowledger/, or the per-user default).
"""

import functools

import click

from .location import ENV_VAR, LEDGER_NAME, PROJECT_DIR

DB_HELP = (
    f"Ledger file, or a postgresql:// URL (default: ${ENV_VAR}, the nearest {PROJECT_DIR}/{LEDGER_NAME}, or a "
    "per-user ledger). "
    "May also be given before the sub-command."
)


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
