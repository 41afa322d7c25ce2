"""`import flowledger` stays light: no pandas, no workflow manager."""

import subprocess
import sys


def test_import_pulls_in_no_heavy_or_workflow_packages():
    code = (
        "import sys, flowledger; heavy = [m for m in ('pandas', 'snakemake', 'redun', 'numpy', 'IPython') "
        "if m in sys.modules]; print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
