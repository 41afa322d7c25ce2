"""A SQLite ledger and a PostgreSQL ledger have one schema: the DDL in migrations.py is written once, for
SQLite, and `postgres.translate()` adapts it. These tests read both schemas back from the databases'
catalogues and compare them aspect by aspect, so that neither can drift from the other unnoticed.

They also check the two refusals a server's ledger shares with a file's: a ledger that a newer flowledger
migrated, and a database that is not a ledger, are refused with one line and left as they were.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field

import psycopg
import pytest
from click.testing import CliRunner
from flowledger.cli import cli
from flowledger.errors import LedgerError
from flowledger.location import ServerLedger
from flowledger.migrations import TABLE
from flowledger.store import forget_ledgers, open_ledger

# SQLite's declared column type -> PostgreSQL's `information_schema.columns.data_type`. A type the schema
# starts to use must be added here, on purpose (its meaning on both sides checked first).
TYPES = {"INTEGER": "bigint", "TEXT": "text"}

# SQLite's functions in index expressions -> PostgreSQL's (as `translate()` rewrites them).
FUNCTIONS = {"ifnull": "coalesce"}

# PostgreSQL's referential actions (pg_constraint.confupdtype/confdeltype) as SQLite names them.
ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

FUNCTIONS_SQL = "SELECT proname FROM pg_proc WHERE pronamespace = current_schema()::regnamespace ORDER BY 1"
POSTGRES_ONLY_SET = "flowledger-postgresql"  # the SQLite functions, made on the server
SQLITE_FUNCTIONS = {"json_each", "json_extract", "json_valid", "julianday"}

# Differences known today, each left out of its aspect's comparison (so that the rest still counts) and
# checked by `test_known_differences_are_gone`, which fails (strict xfail) once one is fixed.
KNOWN_NULLABLE_IN_SQLITE = {
    # A PRIMARY KEY column of a rowid table that is not INTEGER may hold NULL in SQLite (a documented
    # legacy quirk: https://sqlite.org/lang_createtable.html#the_primary_key); on PostgreSQL every
    # primary key column is NOT NULL. Harmless: the writer always gives a path.
    ("hash_cache", "path"),
}


@dataclass
class Schema:
    """One ledger's schema in one vocabulary (SQLite's names; PostgreSQL's mapped through the tables above)."""

    relations: dict[str, str] = field(default_factory=dict)  # name -> "table" | "view"
    columns: dict[str, list[tuple]] = field(default_factory=dict)  # table -> [(name, type, default, auto)]
    not_null: set[tuple[str, str]] = field(default_factory=set)  # (table, column)
    primary_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)  # table -> columns, in order
    foreign_keys: set[tuple] = field(default_factory=set)  # (table, columns, target, target columns, upd, del)
    unique_constraints: set[tuple] = field(default_factory=set)  # (table, columns)
    indexes: dict[str, tuple] = field(default_factory=dict)  # name -> (table, unique, keys, where)
    triggers: set[str] = field(default_factory=set)
    migrations: list[tuple[str, str]] = field(default_factory=list)  # (set, name), in the order applied


def expression(text: str | None) -> str | None:
    """An index key or predicate, as both dialects' texts of it compare: SQLite's functions as
    PostgreSQL's, no casts, no quotes around names, no outer parentheses, lower case, tight spacing."""
    if text is None:
        return None
    text = text.strip()
    for sqlite_name, postgres_name in FUNCTIONS.items():
        text = re.sub(rf"\b{sqlite_name}\s*\(", f"{postgres_name}(", text, flags=re.I)
    text = re.sub(r"::[a-z ]+", "", text)
    text = re.sub(r'["\[\]]', "", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s*([(),])\s*", r"\1", text)
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1]
    return text.lower()


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _default(text: str | None) -> str | None:
    return None if text is None else re.sub(r"::[a-z ]+$", "", text.strip())


# ---- reading SQLite's catalogue -----------------------------------------------------------------------
def sqlite_schema(conn: sqlite3.Connection) -> Schema:
    schema = Schema()
    objects = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    sql_of = {}
    for kind, name, _table, sql in objects.fetchall():
        if kind in ("table", "view"):
            schema.relations[name] = kind
        elif kind == "trigger":
            schema.triggers.add(name)
        sql_of[name] = sql
    for table in [name for name, kind in schema.relations.items() if kind == "table"]:
        without_rowid = bool(re.search(r"\)\s*WITHOUT\s+ROWID\s*$", sql_of[table], re.I))
        info = conn.execute(f"PRAGMA table_info([{table}])").fetchall()
        keys = sorted((row[5], row[1]) for row in info if row[5])
        schema.primary_keys[table] = tuple(name for _, name in keys)
        columns = []
        for _cid, name, declared, notnull, default, pk in info:
            if declared.upper() not in TYPES:
                pytest.fail(f"{table}.{name} is declared {declared!r}: add its PostgreSQL type to TYPES")
            rowid_alias = pk and len(keys) == 1 and declared.upper() == "INTEGER" and not without_rowid
            columns.append((name, TYPES[declared.upper()], _default(default), "by default" if rowid_alias else None))
            if notnull or rowid_alias or (pk and without_rowid):  # the NOT NULL SQLite enforces
                schema.not_null.add((table, name))
        schema.columns[table] = columns
        references: dict[int, list] = {}
        for ref_id, _seq, target, source, to, on_update, on_delete, _match in conn.execute(
            f"PRAGMA foreign_key_list([{table}])"
        ):
            references.setdefault(ref_id, []).append((source, target, to, on_update, on_delete))
        for parts in references.values():
            target, on_update, on_delete = parts[0][1], parts[0][3], parts[0][4]
            to = tuple(p[2] or "id" for p in parts)
            schema.foreign_keys.add((table, tuple(p[0] for p in parts), target, to, on_update, on_delete))
        for _seq, index, unique, origin, _partial in conn.execute(f"PRAGMA index_list([{table}])"):
            if origin == "pk":
                continue
            if origin == "u":
                names = tuple(row[2] for row in conn.execute(f"PRAGMA index_info([{index}])"))
                schema.unique_constraints.add((table, names))
                continue
            found = re.search(r"\bON\s+\[?\w+\]?\s*\((.*)\)\s*(?:WHERE\s+(.*))?$", sql_of[index], re.I | re.S)
            assert found, sql_of[index]
            keys_sql = tuple(expression(key) for key in _split_top_level(found.group(1)))
            schema.indexes[index] = (table, bool(unique), keys_sql, expression(found.group(2)))
    schema.migrations = [tuple(row) for row in conn.execute(f"SELECT migration_set, name FROM {TABLE} ORDER BY id")]
    return schema


# ---- reading PostgreSQL's catalogue -------------------------------------------------------------------
def postgres_schema(conn: psycopg.Connection) -> Schema:
    schema = Schema()
    kinds = {"BASE TABLE": "table", "VIEW": "view"}
    for name, kind in conn.execute(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = current_schema()"
    ):
        schema.relations[name] = kinds.get(kind, kind)
    for table, name, data_type, nullable, default, identity, generation in conn.execute(
        "SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity, identity_generation "
        "FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    ):
        auto = generation.lower() if identity == "YES" else None
        schema.columns.setdefault(table, []).append((name, data_type, _default(default), auto))
        if nullable == "NO":
            schema.not_null.add((table, name))
    constraints = conn.execute(
        "SELECT c.conrelid::regclass::text, c.contype, c.conindid, "
        "  ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(n, i) "
        "        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i), "
        "  c.confrelid::regclass::text, "
        "  ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY AS k(n, i) "
        "        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i), "
        "  c.confupdtype, c.confdeltype "
        "FROM pg_constraint c WHERE c.connamespace = current_schema()::regnamespace"
    ).fetchall()
    backing = set()  # indexes that carry a primary key or unique constraint
    for table, kind, index, columns, target, target_columns, on_update, on_delete in constraints:
        if kind == "p":
            schema.primary_keys[table] = tuple(columns)
            backing.add(index)
        elif kind == "u":
            schema.unique_constraints.add((table, tuple(columns)))
            backing.add(index)
        elif kind == "f":
            key = (table, tuple(columns), target, tuple(target_columns), ACTIONS[on_update], ACTIONS[on_delete])
            schema.foreign_keys.add(key)
    for table in [name for name, kind in schema.relations.items() if kind == "table"]:
        schema.primary_keys.setdefault(table, ())
    for index_id, name, table, unique, key_count, predicate in conn.execute(
        "SELECT i.indexrelid, ic.relname, tc.relname, i.indisunique, i.indnkeyatts, "
        "  pg_get_expr(i.indpred, i.indrelid, true) "
        "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid "
        "WHERE tc.relnamespace = current_schema()::regnamespace"
    ).fetchall():
        if index_id in backing:
            continue
        keys = tuple(
            expression(conn.execute("SELECT pg_get_indexdef(%s, %s, true)", [index_id, n]).fetchone()[0])
            for n in range(1, key_count + 1)
        )
        schema.indexes[name] = (table, unique, keys, expression(predicate))
    schema.triggers = {
        row[0]
        for row in conn.execute(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
        )
    }
    schema.migrations = [
        tuple(row)
        for row in conn.execute(f"SELECT migration_set, name FROM {TABLE} ORDER BY id")
        if row[0] != POSTGRES_ONLY_SET
    ]
    return schema


# ---- the two schemas ----------------------------------------------------------------------------------
@dataclass
class Pair:
    sqlite: Schema
    postgres: Schema
    postgres_sets: set[str]
    postgres_functions: set[str]


@pytest.fixture(scope="module")
def schemas(postgres, tmp_path_factory) -> Pair:
    """A fresh SQLite ledger and a fresh PostgreSQL ledger, each migrated by opening it, read back."""
    path = tmp_path_factory.mktemp("parity") / "ledger.db"
    open_ledger(path).close()
    with sqlite3.connect(path) as conn:
        lite = sqlite_schema(conn)
    url = postgres.url(postgres.new_database())
    open_ledger(ServerLedger(url)).close()
    with psycopg.connect(url) as conn:
        server = postgres_schema(conn)
        sets = {row[0] for row in conn.execute(f"SELECT DISTINCT migration_set FROM {TABLE}")}
        functions = {row[0] for row in conn.execute(FUNCTIONS_SQL)}
    return Pair(lite, server, sets, functions)


def test_the_same_tables_and_views(schemas):
    assert schemas.sqlite.relations, "the SQLite ledger has no tables"
    assert schemas.postgres.relations == schemas.sqlite.relations


def test_the_same_columns_in_the_same_order_with_mapped_types_and_defaults(schemas):
    """(name, type through TYPES, default, identity): SQLite's INTEGER PRIMARY KEY (a rowid alias, which
    takes a given id or makes one) is PostgreSQL's identity column GENERATED BY DEFAULT. The order counts:
    rows read by position (`stream()`, `SELECT *`) must mean the same on both."""
    for table, columns in schemas.sqlite.columns.items():
        assert schemas.postgres.columns.get(table) == columns, table
    assert schemas.postgres.columns.keys() == schemas.sqlite.columns.keys()


def test_the_same_not_null_columns(schemas):
    """NOT NULL as each database enforces it (a rowid alias, and a WITHOUT ROWID table's primary key, are
    never NULL in SQLite), except the differences listed in KNOWN_NULLABLE_IN_SQLITE."""
    postgres = schemas.postgres.not_null - KNOWN_NULLABLE_IN_SQLITE
    assert postgres == schemas.sqlite.not_null


@pytest.mark.xfail(
    strict=True,
    reason="known today: hash_cache.path (TEXT PRIMARY KEY of a rowid table) accepts NULL on SQLite, not on "
    "PostgreSQL; fixing it needs a migration that rebuilds hash_cache with `path TEXT NOT NULL PRIMARY KEY`",
)
def test_known_differences_are_gone(schemas):
    assert schemas.sqlite.not_null >= KNOWN_NULLABLE_IN_SQLITE


def test_the_same_primary_keys(schemas):
    assert schemas.postgres.primary_keys == schemas.sqlite.primary_keys


def test_the_same_foreign_keys(schemas):
    """(table, columns) -> (table, columns), with the same ON UPDATE / ON DELETE actions."""
    assert schemas.sqlite.foreign_keys, "no foreign keys read from SQLite"
    assert schemas.postgres.foreign_keys == schemas.sqlite.foreign_keys


def test_the_same_unique_constraints(schemas):
    """Inline UNIQUE constraints, by table and columns (SQLite names them sqlite_autoindex_*)."""
    assert schemas.postgres.unique_constraints == schemas.sqlite.unique_constraints


def test_the_same_indexes_by_name(schemas):
    """Every CREATE [UNIQUE] INDEX, by its exact name: table, uniqueness, keys (columns or expressions:
    SQLite's `ifnull(version, '')` is PostgreSQL's `COALESCE(version, ''::text)`) and partial predicate."""
    assert schemas.sqlite.indexes, "no indexes read from SQLite"
    for name, index in schemas.sqlite.indexes.items():
        assert schemas.postgres.indexes.get(name) == index, name
    assert schemas.postgres.indexes.keys() == schemas.sqlite.indexes.keys()


def test_the_same_triggers(schemas):
    assert schemas.postgres.triggers == schemas.sqlite.triggers


def test_the_same_migrations_recorded(schemas):
    """In `_sqlite_migrations`, in the same order; PostgreSQL also has its own set, which only makes the
    SQLite functions the queries use."""
    assert ("flowledger", "m001_initial") in schemas.sqlite.migrations
    assert schemas.postgres.migrations == schemas.sqlite.migrations
    assert POSTGRES_ONLY_SET in schemas.postgres_sets
    assert schemas.postgres_functions >= SQLITE_FUNCTIONS


# ---- refusals -----------------------------------------------------------------------------------------
def snapshot(url: str) -> dict:
    """What a database holds in its schema: tables with their columns and rows, indexes, functions."""
    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1"
            )
        ]
        return {
            "columns": conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_schema = current_schema() ORDER BY 1, 2"
            ).fetchall(),
            "rows": {table: sorted(map(repr, conn.execute(f'SELECT * FROM "{table}"'))) for table in tables},
            "indexes": conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1"
            ).fetchall(),
            "functions": conn.execute(FUNCTIONS_SQL).fetchall(),
        }


def refused_on_the_command_line(url: str) -> str:
    """`flowledger --db URL runs`: exit status 1 and one line on stderr, which is returned."""
    forget_ledgers()
    result = CliRunner().invoke(cli, ["--db", url, "runs"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_a_ledger_migrated_by_a_newer_flowledger_is_refused(postgres):
    database = postgres.new_database()
    url = postgres.url(database)
    open_ledger(ServerLedger(url)).close()
    postgres.sql(
        f"INSERT INTO {TABLE} (migration_set, name, applied_at) "
        "VALUES ('flowledger', 'm999_from_a_newer_flowledger', '2099-01-01 00:00:00+00:00')",
        database,
    )
    before = snapshot(url)
    with pytest.raises(LedgerError) as refused:
        open_ledger(ServerLedger(url))
    message = str(refused.value)
    assert "newer flowledger" in message and "upgrade flowledger" in message, message
    assert "\n" not in message
    assert "newer flowledger" in refused_on_the_command_line(url)
    assert snapshot(url) == before


FOREIGN_DATABASES = {
    "another application's tables": (
        "CREATE TABLE patients (id serial PRIMARY KEY, name text NOT NULL);"
        "INSERT INTO patients (name) VALUES ('Ada'), ('Grace')"
    ),
    "another application's sqlite-utils-style migrations": (
        f"CREATE TABLE {TABLE} (id serial PRIMARY KEY, migration_set text, name text, applied_at text);"
        f"INSERT INTO {TABLE} (migration_set, name) VALUES ('inventory', 'm001_initial')"
    ),
    "another application's runs table and migrations": (
        f"CREATE TABLE {TABLE} (id serial PRIMARY KEY, migration_set text, name text, applied_at text);"
        f"INSERT INTO {TABLE} (migration_set, name) VALUES ('scheduler', 'm001_initial');"
        "CREATE TABLE runs (id serial PRIMARY KEY, job text);"
        "INSERT INTO runs (job) VALUES ('nightly backup')"
    ),
}


@pytest.mark.parametrize(
    "setup",
    [
        FOREIGN_DATABASES["another application's tables"],
        FOREIGN_DATABASES["another application's sqlite-utils-style migrations"],
        FOREIGN_DATABASES["another application's runs table and migrations"],
    ],
    ids=list(FOREIGN_DATABASES),
)
def test_a_database_that_is_not_a_ledger_is_refused_and_left_untouched(postgres, setup):
    database = postgres.new_database()
    url = postgres.url(database)
    postgres.sql(setup, database)
    before = snapshot(url)
    with pytest.raises(LedgerError) as refused:
        open_ledger(ServerLedger(url))
    message = str(refused.value)
    assert "not a flowledger ledger" in message and "nothing was changed" in message, message
    assert "\n" not in message
    assert "not a flowledger ledger" in refused_on_the_command_line(url)
    forget_ledgers()
    init = CliRunner().invoke(cli, ["--db", url, "init"])
    assert init.exit_code == 1 and "not a flowledger ledger" in init.stderr, init.output
    assert snapshot(url) == before
