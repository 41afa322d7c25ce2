"""The core's SQL, written once in the dialect SQLite and PostgreSQL share, means the same on both:
`postgres.translate()` checked on the real server, with generated inputs (hypothesis)."""

import sqlite3

import psycopg
import pytest
from flowledger.postgres import glob_as_like, translate
from flowledger.registry import glob_literal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TEXT = st.text(alphabet=st.sampled_from("ab/_%*?[]\\.- é'"), max_size=8)


@pytest.fixture(scope="module")
def both(postgres):
    """A query runner per store: (SQLite in memory, the PostgreSQL server), each taking the core's SQL."""
    lite = sqlite3.connect(":memory:")
    server = psycopg.connect(postgres.url(), autocommit=True)

    def on_sqlite(sql, params):
        return lite.execute(sql, params).fetchall()

    def on_postgres(sql, params):
        text, globbed = translate(sql)
        values = [glob_as_like(v) if i in globbed else v for i, v in enumerate(params)]
        return [tuple(row) for row in server.execute(text, values).fetchall()]

    yield on_sqlite, on_postgres
    server.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=TEXT, text=TEXT)
def test_a_literal_glob_prefix_matches_the_same_on_both(both, prefix, text):
    """`path__startswith` and `path__under` match literally on both stores, whatever the characters."""
    on_sqlite, on_postgres = both
    sql = "SELECT ? GLOB ?, ? GLOB ?"
    params = [text, glob_literal(prefix) + "*", text, "*" + glob_literal(prefix) + "*"]
    expected = [(int(text.startswith(prefix)), int(prefix in text))]
    assert on_sqlite(sql, params) == expected
    assert [tuple(int(v) for v in row) for row in on_postgres(sql, params)] == expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_quotes_percent_signs_and_question_marks_in_literals_stay_text(both, text):
    on_sqlite, on_postgres = both
    literal = "'" + text.replace("'", "''") + "'"
    sql = f"SELECT {literal}, ? || '%?'"
    assert on_sqlite(sql, [text]) == on_postgres(sql, [text]) == [(text, text + "%?")]
