"""What the lineage page's tests share: where Chromium is, `flowledger view` as a command, the JSON a page
embeds, and what a run's page must hold, read from the ledger with SQL of its own. (A uniquely named
module: test folders share one namespace.)"""

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

CHROMIUM = Path(os.environ.get("FLOWLEDGER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FLOWLEDGER = str(Path(sys.executable).with_name("flowledger"))
DATA = re.compile(r'<script type="application/json" id="flowledger-data">(.*?)</script>', re.S)


def view(db: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`flowledger --db DB view ARGS...`, as a user runs it."""
    return subprocess.run([FLOWLEDGER, "--db", db, "view", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def page_data(path: Path) -> dict:
    """The JSON a page embeds (its `\\u003c` escapes undone by the JSON parser, as in the browser)."""
    return json.loads(DATA.search(path.read_text(encoding="utf-8")).group(1))


def ledger_view_of_run(db: str, uid: str) -> dict:
    """What the page of a workflow run must hold, read straight from the ledger."""
    conn = sqlite3.connect(db)
    runs = {
        row[0]
        for row in conn.execute(
            "WITH RECURSIVE t(id) AS (SELECT id FROM runs WHERE uid = ? "
            "UNION SELECT r.id FROM runs r JOIN t ON r.initiated_by_run_id = t.id) SELECT id FROM t",
            (uid,),
        )
    }
    marks = ", ".join("?" * len(runs))
    links = [
        ("output", a, r)
        for a, r in conn.execute(f"SELECT id, run_id FROM artifacts WHERE run_id IN ({marks})", [*runs])
    ]
    for table, role in (("run_inputs", "input"), ("run_replicated_artifacts", "replicated")):
        links += [
            (role, a, r)
            for r, a in conn.execute(f"SELECT run_id, artifact_id FROM {table} WHERE run_id IN ({marks})", [*runs])
        ]
    return {"runs": runs, "artifacts": {a for _, a, _ in links}, "links": links}
