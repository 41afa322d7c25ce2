"""A snapshot of the Python environment, saved as a requirements file beside the ledger.

Same packages -> same file -> the same Artifact, so runs that share an environment share its record.
"""

import hashlib
import sys
from importlib import metadata
from pathlib import Path


def requirements_text() -> str:
    lines = set()
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            lines.add(f"{name}=={dist.version}")
    header = f"# python {sys.version.split()[0]}\n"
    return header + "\n".join(sorted(lines, key=str.lower)) + "\n"


def snapshot(folder: Path) -> Path:
    """Write the requirements of this interpreter under `folder`; return the file's path."""
    text = requirements_text()
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = folder / "environments" / f"requirements-{digest}.txt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path
