"""A snapshot of the Python environment, saved as a requirements file beside the ledger.

Same packages -> same file -> the same Artifact, so runs that share an environment share its record. The
distributions are read as `installed` reads them (cheaply, in importlib.metadata's order).
"""

import hashlib
import os
import re
import sys
from pathlib import Path


def requirements_text() -> str:
    """`name==version` per installed distribution, as `pip freeze` lists them (the first found wins)."""
    from .installed import names_and_versions  # (only when the installation changed: see `snapshot`)

    found: dict[str, str] = {}
    for name, version in names_and_versions():
        if name:
            found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), f"{name}=={version}")
    header = f"# python {sys.version.split()[0]}\n"
    return header + "\n".join(found[key] for key in sorted(found)) + "\n"


def snapshot(folder: Path) -> Path:
    """Write the requirements of this interpreter under `folder`; return the file's path.

    Reading every distribution's metadata costs ~10 ms on each `fl.track()`; an index remembers which
    file the installation gave last time, keyed by what would change if a package were installed or
    removed (the interpreter, and each folder of `sys.path` with its modification time).
    """
    index = folder / "environments" / f".index-{_installation_key()}"
    try:
        known = folder / "environments" / index.read_text().strip()
        if known.name.startswith("requirements-") and known.exists():
            return known
    except OSError:
        pass
    text = requirements_text()
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = folder / "environments" / f"requirements-{digest}.txt"
    if not path.exists():
        _write(path, text)
    _write(index, path.name)
    return path


def _write(path: Path, text: str) -> None:
    """Written whole, then renamed, so a concurrent reader never reads half a file."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".requirements-")
    os.fchmod(handle, 0o644)  # mkstemp makes it private; others sharing the ledger read it
    with os.fdopen(handle, "w") as file:
        file.write(text)
    os.replace(temporary, path)


def _installation_key() -> str:
    """What the installed distributions depend on: the interpreter, and each sys.path folder's mtime (a
    package installed, upgraded or removed adds or removes an entry there, and so changes it)."""
    parts = [sys.executable, sys.version, sys.prefix]
    for entry in sys.path:
        try:
            parts.append(f"{entry}:{os.stat(entry or '.').st_mtime_ns}")
        except (OSError, TypeError):
            parts.append(f"{entry}:-")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
