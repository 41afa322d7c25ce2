"""A snapshot of the Python environment, saved as a requirements file beside the ledger.

Same packages -> same file -> the same Artifact, so runs that share an environment share its record. The
distributions are read as `installed` reads them (cheaply, in importlib.metadata's order).
"""

import hashlib
import os
import re
import sys
import tempfile
from pathlib import Path

from .installed import names_and_versions


def requirements_text() -> str:
    """`name==version` per installed distribution, as `pip freeze` lists them (the first found wins)."""
    found: dict[str, str] = {}
    for name, version in names_and_versions():
        if name:
            found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), f"{name}=={version}")
    header = f"# python {sys.version.split()[0]}\n"
    return header + "\n".join(found[key] for key in sorted(found)) + "\n"


def snapshot(folder: Path) -> Path:
    """Write the requirements of this interpreter under `folder`; return the file's path."""
    text = requirements_text()
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = folder / "environments" / f"requirements-{digest}.txt"
    if not path.exists():  # written whole, then renamed, so a concurrent reader never hashes half a file
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".requirements-")
        os.fchmod(handle, 0o644)  # mkstemp makes it private; others sharing the ledger read it
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    return path
