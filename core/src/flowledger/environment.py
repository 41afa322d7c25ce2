"""A snapshot of the Python environment, saved as a requirements file beside the ledger.

Same packages -> same file -> the same Artifact, so runs that share an environment share its record. The
distributions are read as `installed` reads them (cheaply, in importlib.metadata's order).
"""

import hashlib
import re
import sys
from pathlib import Path

from .installed import installation_key, names_and_versions, package_folders, unchanged
from .paths import write_whole


def requirements_text() -> str:
    """`name==version` per installed distribution, as `pip freeze` lists them (the first found wins)."""
    found: dict[str, str] = {}
    for name, version in names_and_versions():
        if name:
            found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), f"{name}=={version}")
    header = f"# python {sys.version.split()[0]}\n"
    return header + "\n".join(found[key] for key in sorted(found)) + "\n"


def snapshot(folder: Path) -> Path:
    """Write the requirements of this interpreter under `folder`; return the file's path.

    Reading every distribution's metadata costs ~10 ms on each `fl.track()`; an index remembers which
    file this installation gave last time, and the folders it found distributions in, with their
    modification times: a package installed, upgraded or removed changes its folder's, and the snapshot
    is made again.
    """
    index = folder / "environments" / f".index-{installation_key()}"
    known = _still_valid(index)
    if known is not None and (folder / "environments" / known).exists():
        return folder / "environments" / known
    text = requirements_text()
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = folder / "environments" / f"requirements-{digest}.txt"
    if not path.exists():
        write_whole(path, text)
    write_whole(index, "\n".join([path.name, *(f"{mtime}\t{entry}" for entry, mtime in package_folders())]))
    return path


def _still_valid(index: Path) -> str | None:
    """The requirements file an index names, if none of the folders it lists has changed since."""
    try:
        name, *lines = index.read_text().splitlines()
        folders = [(entry, int(mtime)) for mtime, _, entry in (line.partition("\t") for line in lines)]
    except (OSError, ValueError):
        return None
    return name if name.startswith("requirements-") and unchanged(folders) else None
