"""Running real Snakemake 8 and 9 for the plugin's end-to-end tests, and reading back what they did.

Everything the tests need lives under tests/snakemake/data (copied from the reference samples), so the
tests never read outside the repository.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATA = HERE / "data"
WORKFLOW = DATA / "workflow"
SM8_ENV = "FLOWLEDGER_SM8_SNAKEMAKE"


@dataclass
class Snakemake:
    """One Snakemake installation and how to make it record into a ledger."""

    major: int
    executable: Path
    handler: str | None = None  # Snakemake 8: the --log-handler-script file

    def command(self, *args: str, record: bool = True, db: Path | None = None) -> list[str]:
        cmd = [str(self.executable), *args, "--cores", "2"]
        if self.major >= 9:
            cmd += ["--scheduler", "greedy"]
        if record:
            if self.major >= 9:  # last: --logger takes nargs="+" and would swallow targets after it
                cmd += ["--logger", "flowledger"]
                if db is not None:
                    cmd += ["--logger-flowledger-db", str(db)]
            else:
                cmd += ["--log-handler-script", str(self.handler)]
        return cmd

    def run(
        self,
        workdir: Path,
        *args: str,
        record: bool = True,
        db: Path | None = None,
        env: dict | None = None,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.command(*args, record=record, db=db),
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def detailed_summary(self, workdir: Path, *targets: str, env: dict | None = None) -> list[dict]:
        """`snakemake --detailed-summary`: the oracle for which rule made each output from which inputs."""
        done = subprocess.run(
            [str(self.executable), *targets, "--detailed-summary", "--cores", "1"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        text = done.stdout[done.stdout.index("output_file\t") :]
        return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


def snakemake9() -> Snakemake:
    return Snakemake(9, Path(sys.executable).with_name("snakemake"))


def snakemake8() -> Snakemake:
    """Snakemake 8.30 from $FLOWLEDGER_SM8_SNAKEMAKE or <repo>/.venv-sm8; skipped when absent (failed under CI)."""
    executable = Path(os.environ.get(SM8_ENV) or REPO / ".venv-sm8" / "bin" / "snakemake")
    if not executable.exists():
        reason = (
            f"Snakemake 8 not found at {executable}: create it with `make sm8` (or set {SM8_ENV}): "
            "python3 -m uv venv .venv-sm8 --python 3.11 && python3 -m uv pip install --python "
            ".venv-sm8/bin/python -r tests/snakemake/requirements-sm8.txt -e core -e plugins/snakemake"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    cli = executable.with_name("flowledger")
    handler = None
    if cli.exists():  # the real user command, from the Snakemake 8 environment
        done = subprocess.run(
            [str(cli), "snakemake", "handler-path"], capture_output=True, text=True, env=clean_env(), timeout=120
        )
        handler = done.stdout.strip() if done.returncode == 0 else None
    if not handler:
        import snakemake_logger_plugin_flowledger

        handler = str(Path(snakemake_logger_plugin_flowledger.__file__).with_name("handler8.py"))
    return Snakemake(8, executable, handler)


def snakemake_for(major: int) -> Snakemake:
    return snakemake9() if major >= 9 else snakemake8()


def clean_env(**extra: str) -> dict:
    """The test process's environment without any flowledger settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWLEDGER_DB", "SNAKEMAKE_LOGGER_FLOWLEDGER_"))}
    env.update(extra)
    return env


def new_workflow(where: Path) -> Path:
    shutil.copytree(WORKFLOW, where)
    return where


def snapshot(db: Path, dest: Path) -> Path | None:
    """A consistent copy of the ledger as it is now (None if nothing was ever recorded)."""
    if not db.exists():
        return None
    source, target = sqlite3.connect(db), sqlite3.connect(dest)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return dest


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree_digest(root: Path, *folders: str) -> dict[str, str]:
    """{relative path: sha256} of every file under the given folders (to compare two runs' outputs)."""
    found = {}
    for folder in folders:
        base = root / folder
        for path in sorted(base.rglob("*")) if base.exists() else ():
            if path.is_file():
                found[str(path.relative_to(root))] = sha256(path)
    return found
