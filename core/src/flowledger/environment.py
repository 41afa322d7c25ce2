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
    file this installation gave last time, and the folders it found distributions in, with their
    modification times: a package installed, upgraded or removed changes its folder's, and the snapshot
    is made again.
    """
    index = folder / "environments" / f".index-{_installation_key()}"
    known = _still_valid(index)
    if known is not None and (folder / "environments" / known).exists():
        return folder / "environments" / known
    text = requirements_text()
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = folder / "environments" / f"requirements-{digest}.txt"
    if not path.exists():
        _write(path, text)
    _write(index, "\n".join([path.name, *(f"{mtime}\t{entry}" for entry, mtime in _folders_with_distributions())]))
    return path


def _still_valid(index: Path) -> str | None:
    """The requirements file an index names, if none of the folders it lists has changed since."""
    try:
        name, *folders = index.read_text().splitlines()
        for line in folders:
            mtime, _, entry = line.partition("\t")
            if os.stat(entry).st_mtime_ns != int(mtime):
                return None
    except (OSError, ValueError):
        return None
    return name if name.startswith("requirements-") else None


def _folders_with_distributions() -> list[tuple[str, int]]:
    from .installed import distributions

    folders = dict.fromkeys(os.path.dirname(found) for found in distributions() if isinstance(found, str))
    return [(entry, os.stat(entry).st_mtime_ns) for entry in folders if os.path.isdir(entry)]


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
    """The interpreter and where it looks for packages."""
    return hashlib.sha256(
        "\n".join([sys.executable, sys.version, sys.prefix, *map(str, sys.path)]).encode()
    ).hexdigest()[:16]
