"""Least privilege on a shared ledger: the README's roles SQL, run as printed (names and passwords filled in),
gives a writer that records and a reader that reads, and nothing more.

The ledger is made as the README says: its own owner (not a superuser) runs `flowledger --db URL init`,
then the README's two SQL blocks run, the first as a superuser, the second as that owner. The writer and
the reader then connect over TCP, where the server asks for their passwords (given in PGPASSWORD).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result
from flowledger.cli import cli
from flowledger.errors import LedgerError
from flowledger.location import ServerLedger
from flowledger.plugin_api import Recorder, RunStatus, TransformSpec
from flowledger.store import forget_ledgers, open_ledger

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Shared ledger (PostgreSQL)\n"
# The README's names, replaced by this test's (roles belong to the whole server: each test makes its own).
DATABASE, WRITER, READER, PASSWORD = "lab_ledger", "ledger_writer", "ledger_reader", "CHANGE-ME"


def readme_sql() -> tuple[str, str]:
    """The section's two SQL blocks: the roles (as a superuser), then the grants (as the ledger's owner)."""
    section = README.read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, re.S)
    assert len(blocks) == 2, "the section should hold two SQL blocks: the roles, then the grants"
    return blocks[0], blocks[1]


@dataclass
class Lab:
    """A ledger made by its owner, with the README's writer and reader roles."""

    postgres: object
    database: str
    owner: str
    writer: str
    reader: str
    passwords: dict[str, str]

    def url(self, role: str) -> str:
        """The role's URL over TCP (a password is required there)."""
        return self.postgres.tcp_url(self.database, role)

    def connect(self, role: str) -> psycopg.Connection:
        return psycopg.connect(self.url(role), password=self.passwords[role], autocommit=True)


@pytest.fixture
def lab(postgres, monkeypatch, tmp_path) -> Lab:
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))  # only PGPASSWORD gives a password here
    monkeypatch.delenv("PGPASSWORD", raising=False)
    tag = uuid.uuid4().hex[:8]
    owner, writer, reader = f"lab_owner_{tag}", f"writer_{tag}", f"reader_{tag}"
    database = f"lab_{tag}"
    postgres.sql(f"CREATE ROLE {owner} LOGIN")
    postgres.sql(f"CREATE DATABASE {database} OWNER {owner}")
    init = CliRunner().invoke(cli, ["--db", postgres.url(database, user=owner), "init"])
    assert init.exit_code == 0, init.output
    forget_ledgers()
    passwords = {writer: f"w-{uuid.uuid4().hex}", reader: f"r-{uuid.uuid4().hex}"}
    roles, grants = (_named(block, database, writer, reader) for block in readme_sql())
    placeholder = re.compile(r"(CREATE ROLE (\w+) LOGIN PASSWORD ')" + re.escape(PASSWORD) + "'")
    assert sorted(found[1] for found in placeholder.findall(roles)) == sorted([writer, reader]), roles
    postgres.sql(placeholder.sub(lambda found: f"{found[1]}{passwords[found[2]]}'", roles))
    with psycopg.connect(postgres.url(database, user=owner), autocommit=True) as conn:
        conn.execute(grants)
    return Lab(postgres, database, owner, writer, reader, passwords)


def _named(sql: str, database: str, writer: str, reader: str) -> str:
    for old, new in ((DATABASE, database), (WRITER, writer), (READER, reader)):
        sql = re.sub(rf"\b{old}\b", new, sql)
    return sql


def _record(url: str, tmp_path: Path) -> tuple[str, Path, Path]:
    """A workflow run with a job, then a re-run of the job that makes a new version of its output."""
    data, result = tmp_path / "data.txt", tmp_path / "upper.txt"
    data.write_text("hello\n")
    result.write_text("HELLO\n")
    recorder = Recorder(url)
    try:
        workflow = recorder.start_run(TransformSpec("lab-pipeline"), reference="lab-1", reference_type="test_id")
        rule = TransformSpec("upper", type="rule", source_code="tr a-z A-Z < {input} > {output}")
        recorder.record_job(rule, inputs=[data], outputs=[result], initiated_by=workflow, reference="job-1")
        result.write_text("HELLO, AGAIN\n")  # a new version: the last one's is_latest is updated
        recorder.record_job(rule, inputs=[data], outputs=[result], initiated_by=workflow, reference="job-2")
        recorder.finish_run(workflow, status=RunStatus.COMPLETED)
    finally:
        recorder.close()
    return workflow, data, result


def _cli(*args: str) -> Result:
    forget_ledgers()
    return CliRunner().invoke(cli, list(args))


def _one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_the_writer_records_and_the_reader_reads(lab, monkeypatch, tmp_path):
    monkeypatch.setenv("PGPASSWORD", lab.passwords[lab.writer])
    workflow, data, result = _record(lab.url(lab.writer), tmp_path)
    forget_ledgers()

    monkeypatch.setenv("PGPASSWORD", lab.passwords[lab.reader])
    url = lab.url(lab.reader)
    runs = _cli("--db", url, "runs", "--all")
    assert runs.exit_code == 0, runs.output
    assert workflow in runs.output and "upper" in runs.output
    lineage = _cli("--db", url, "lineage", str(result))
    assert lineage.exit_code == 0, lineage.output
    assert "v2" in lineage.output and "rule upper" in lineage.output and data.name in lineage.output
    show = _cli("--db", url, "show", workflow)
    assert show.exit_code == 0 and "lab-pipeline" in show.output, show.output
    page = tmp_path / "lineage.html"
    view = _cli("--db", url, "view", str(result), "-o", str(page))
    assert view.exit_code == 0 and page.stat().st_size, view.output + view.stderr
    verify = _cli("--db", url, "verify", str(result), str(data))
    assert verify.exit_code == 0, verify.output
    export = _cli("--db", url, "export", workflow)
    assert export.exit_code == 0, export.output + export.stderr
    events = [json.loads(line) for line in export.stdout.splitlines()]
    assert len({event["run"]["runId"] for event in events}) == 3 and len(events) == 6  # a START and an end each


def test_the_writer_cannot_delete_or_change_the_schema(lab, monkeypatch, tmp_path):
    monkeypatch.setenv("PGPASSWORD", lab.passwords[lab.writer])
    _record(lab.url(lab.writer), tmp_path)
    with lab.connect(lab.writer) as conn:
        for statement in (
            "DELETE FROM runs",
            "TRUNCATE hash_cache",
            "DROP TABLE artifacts",
            "ALTER TABLE runs ADD COLUMN sneaky TEXT",
            "CREATE TABLE sneaky (id bigint)",
            "INSERT INTO _sqlite_migrations (migration_set, name) VALUES ('flowledger', 'm999_sneaky')",
            "UPDATE _sqlite_migrations SET name = 'sneaky'",
            "CREATE FUNCTION sneaky() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 3


def test_a_write_as_the_reader_fails_with_one_line(lab, monkeypatch, tmp_path):
    monkeypatch.setenv("PGPASSWORD", lab.passwords[lab.reader])
    (tmp_path / "in.txt").write_text("x\n")
    recorder = Recorder(lab.url(lab.reader))
    try:
        with pytest.raises(LedgerError) as refused:
            recorder.record_job(TransformSpec("upper", type="rule"), inputs=[tmp_path / "in.txt"])
    finally:
        recorder.close()
    message = str(refused.value)
    assert "\n" not in message and "permission denied for table" in message, message
    assert lab.passwords[lab.reader] not in message
    with lab.connect(lab.reader) as conn:
        for statement in (
            "UPDATE runs SET status = 'completed'",
            "DELETE FROM runs",
            "CREATE TABLE sneaky (id bigint)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


@pytest.mark.parametrize("where", ["PGPASSWORD", "URL"])
def test_a_wrong_password_is_one_line_that_does_not_show_it(lab, monkeypatch, where):
    secret = f"not-the-password-{uuid.uuid4().hex[:6]}"
    url = lab.url(lab.writer)
    if where == "PGPASSWORD":
        monkeypatch.setenv("PGPASSWORD", secret)
    else:
        url = url.replace(f"//{lab.writer}@", f"//{lab.writer}:{secret}@")
    line = _one_line_error(_cli("--db", url, "runs"))
    assert "password authentication failed" in line, line
    assert secret not in line
    with pytest.raises(LedgerError) as refused:
        open_ledger(ServerLedger(url), spool=False)  # (recording would go on into the spool: test_server_down)
    assert "\n" not in str(refused.value) and secret not in str(refused.value)


def test_tables_a_later_migration_adds_get_the_same_grants(lab, monkeypatch):
    """ALTER DEFAULT PRIVILEGES: what the owner's `init` makes after an upgrade is the roles' as well."""
    with psycopg.connect(lab.postgres.url(lab.database, user=lab.owner), autocommit=True) as conn:
        conn.execute("CREATE TABLE later_things (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, note TEXT)")
    with lab.connect(lab.writer) as conn:
        conn.execute("INSERT INTO later_things (note) VALUES ('recorded')")
        conn.execute("UPDATE later_things SET note = 'updated'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM later_things")
    with lab.connect(lab.reader) as conn:
        assert conn.execute("SELECT note FROM later_things").fetchall() == [("updated",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO later_things (note) VALUES ('no')")
