"""Fixtures for the Snakemake plugin's tests: a recorded story per Snakemake version, and ledger access."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from snakemake_support import clean_env, new_workflow, snakemake_for, snapshot, tree_digest


@dataclass
class Step:
    name: str
    returncode: int
    stdout: str
    stderr: str
    ledger: Path | None
    summary: list[dict] | None = None
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256 right after the step


@dataclass
class Story:
    """One workflow directory taken through success, no-op, dry run, rerun, code change and failure."""

    major: int
    workdir: Path
    decoy: Path
    steps: dict[str, Step] = field(default_factory=dict)


def _tell(sm, workdir: Path, db: Path, decoy: Path, snapshots: Path) -> Story:
    story = Story(sm.major, workdir, decoy)
    # The plugin's own setting beats FLOWLEDGER_DB, which points at a decoy that must never be created:
    # Snakemake 9 gets --logger-flowledger-db, Snakemake 8 the environment variable of the same setting.
    env = clean_env(FLOWLEDGER_DB=str(decoy))
    if sm.major < 9:
        env["SNAKEMAKE_LOGGER_FLOWLEDGER_DB"] = str(db)
    option_db = db if sm.major >= 9 else None

    def step(name: str, *args: str, summary_targets: tuple[str, ...] | None = None) -> None:
        done = sm.run(workdir, *args, db=option_db, env=env)
        summary = sm.detailed_summary(workdir, *summary_targets, env=env) if summary_targets is not None else None
        story.steps[name] = Step(
            name,
            done.returncode,
            done.stdout,
            done.stderr,
            snapshot(db, snapshots / f"{name}.db"),
            summary,
            tree_digest(workdir, "data", "results", "logs", "benchmarks"),
        )

    step("success", summary_targets=())
    step("uptodate")
    step("dryrun", "-n", "--forceall")
    with open(workdir / "data" / "B.txt", "a") as handle:
        handle.write("a fourth line for B\n")
    (workdir / "config.yaml").write_text("note: rerun\n")  # unused by the rules, but recorded
    step("rerun", "--configfile", "config.yaml", summary_targets=())
    snakefile = workdir / "Snakefile"
    snakefile.write_text(snakefile.read_text().replace("(tr a-z A-Z <", "(tr 'a-z' 'A-Z' <"))
    step("code_change", summary_targets=())
    fail_targets = ("results/fail/shell.txt", "results/fail/run.txt")
    step("failure", *fail_targets, "--keep-going", summary_targets=(*fail_targets, "all"))
    return story


@pytest.fixture(scope="module", params=[9, 8], ids=["snakemake9", "snakemake8"])
def story(request, tmp_path_factory) -> Story:
    sm = snakemake_for(request.param)
    root = tmp_path_factory.mktemp(f"story{request.param}")
    workdir = new_workflow(root / "project")
    snapshots = root / "snapshots"
    snapshots.mkdir()
    return _tell(sm, workdir, root / "ledger.db", root / "decoy" / "ledger.db", snapshots)


@pytest.fixture
def open_ledger(monkeypatch):
    """Point flowledger's default ledger at a file (a snapshot) for reading with the `fl` API."""
    from flowledger.store import forget_ledgers

    def use(path: Path | None):
        assert path is not None, "nothing was recorded at this step"
        monkeypatch.setenv("FLOWLEDGER_DB", str(path))
        forget_ledgers()
        import flowledger as fl

        return fl

    yield use
    forget_ledgers()
