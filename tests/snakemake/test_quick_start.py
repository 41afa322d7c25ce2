"""The plugin README's quick start, run as printed (with Snakemake 9 and with Snakemake 8): its shell
blocks in a fresh folder, its Python block after them. The ledger is the one `flowledger init` made,
found as the nearest `.flowledger/` (no FLOWLEDGER_DB, no plugin setting)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from snakemake_support import REPO, clean_env, snakemake_for

pytestmark = pytest.mark.slow

README = REPO / "plugins" / "snakemake" / "README.md"


def readme_blocks() -> list[tuple[str, str]]:
    """(language, code) of each fenced block of the README's "Quick start" section."""
    text = README.read_text()
    section = text[text.index("## Quick start") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


def the_block(blocks, language: str, marker: str) -> str:
    (code,) = [code for lang, code in blocks if lang == language and marker in code]
    return code


@pytest.mark.parametrize("major", [9, 8], ids=["snakemake9", "snakemake8"])
def test_readme_quick_start_as_printed(major, tmp_path):
    sm = snakemake_for(major)
    blocks = readme_blocks()
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(HOME=str(home))  # the per-user ledger must stay untouched
    # the Snakemake's own environment first: the user has installed the plugin there
    env["PATH"] = os.pathsep.join([str(sm.executable.parent), str(REPO / ".venv" / "bin"), env["PATH"]])

    def shell(code: str, cwd) -> str:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{code}\n{done.stdout}\n{done.stderr}"
        assert "WARNING: flowledger" not in done.stderr
        return done.stdout

    shell(the_block(blocks, "bash", "flowledger init"), tmp_path)
    demo = tmp_path / "demo"
    command = "--logger flowledger" if major >= 9 else "--log-handler-script"
    shell(the_block(blocks, "bash", command), demo)
    assert (demo / ".flowledger" / "ledger.db").is_file()
    assert not any(home.rglob("*.db"))

    shown = shell(the_block(blocks, "bash", "flowledger lineage"), demo)
    assert "pipeline" in shown and "completed" in shown
    assert "rule upper" in shown
    # the CLI prints paths relative to the working directory (absolute before): either form names the file
    # unambiguously as long as it is the whole path shown on the artifact's line
    named = re.search(rf"(^|\s)({re.escape(str(demo / 'hello.txt'))}|hello\.txt) \(sha256:", shown, re.MULTILINE)
    assert named, shown

    done = subprocess.run(
        ["python", "-c", the_block(blocks, "python", "import flowledger")],
        cwd=demo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"upper completed tr a-z A-Z < hello.txt > upper.txt ['{demo / 'upper.txt'}']" in done.stdout
