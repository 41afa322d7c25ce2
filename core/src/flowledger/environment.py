"""A snapshot of the Python environment, saved as a requirements file beside the ledger.

Same packages -> same file -> the same Artifact, so runs that share an environment share its record.

The distributions are found where and in the order `importlib.metadata.distributions()` finds them,
but each one's metadata file is read once and only its header lines are looked at (for Name and
Version), instead of parsing the whole file (long description included) with the email parser for
each field. The `*.dist-info` folder names cannot replace the metadata: they spell the name
normalized (`charset_normalizer`, `pyyaml`) where pip freeze shows `charset-normalizer`, `PyYAML`.
"""

import hashlib
import os
import re
import sys
import tempfile
from importlib.machinery import PathFinder
from itertools import chain
from pathlib import Path

# A header or continuation line, as the email parser (and so importlib.metadata) tells them from the body
_HEADER_LINE = re.compile(r"From |[\041-\071\073-\176]*:|[\t ]")


def requirements_text() -> str:
    """`name==version` per installed distribution, as `pip freeze` lists them (the first found wins)."""
    found: dict[str, str] = {}
    for name, version in _names_and_versions():
        if name:
            found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), f"{name}=={version}")
    header = f"# python {sys.version.split()[0]}\n"
    return header + "\n".join(found[key] for key in sorted(found)) + "\n"


def _names_and_versions():
    """(Name, Version) of each distribution, in the order of `importlib.metadata.distributions()`."""
    for finder in sys.meta_path:
        if finder is PathFinder:
            for entry in sys.path:
                yield from _in_path_entry(entry)
        elif hasattr(finder, "find_distributions"):  # another finder (rare): its distributions as it gives them
            from importlib import metadata

            for dist in finder.find_distributions(metadata.DistributionFinder.Context()):
                yield dist.metadata.get("Name"), dist.metadata.get("Version")


def _in_path_entry(entry):
    """The distributions in one sys.path folder, found as importlib.metadata's `Lookup` finds them."""
    try:
        children = os.listdir(entry or ".") if isinstance(entry, str) else None
    except OSError:  # a missing folder (python311.zip, usually) has nothing, unless it is a file: a zip
        if not os.path.isfile(entry):
            return
        children = None
    if children is None:  # a zip file (an .egg, a .pyz), a path that is not a str: importlib.metadata's way
        from importlib import metadata

        for dist in metadata.distributions(path=[entry]):
            yield (dist.metadata.get_all("Name") or [None])[0], (dist.metadata.get_all("Version") or [None])[0]
        return
    infos: dict[str, list[str]] = {}  # grouped by normalized folder name, in order of first appearance
    eggs = []
    base_is_egg = os.path.basename(entry).lower().endswith(".egg")
    for child in children:
        low = child.lower()
        if low.endswith((".dist-info", ".egg-info")):
            group = re.sub(r"[-_.]+", "_", low.rpartition(".")[0].partition("-")[0])
            infos.setdefault(group, []).append(os.path.join(entry, child))
        elif base_is_egg and low == "egg-info":
            eggs.append(os.path.join(entry, child))
    for info in chain(chain.from_iterable(infos.values()), eggs):
        yield _name_and_version(_metadata_text(info))


def _metadata_text(info: str) -> str:
    """The first non-empty of METADATA, PKG-INFO, or the info path itself when it is a file (as importlib)."""
    for path in (os.path.join(info, "METADATA"), os.path.join(info, "PKG-INFO"), info):
        try:
            with open(path, encoding="utf-8", errors="replace") as file:
                text = file.read(4096)
                if "\n\n" not in text:  # the headers (all we read) may go on: the rest of the file
                    text += file.read()
        except OSError:
            continue
        if text:
            return text
    return ""


def _name_and_version(text: str) -> tuple[str | None, str | None]:
    """The first Name and Version headers, with the values the email parser (compat32) gives them."""
    end = text.find("\n\n")  # the header block ends at the first empty line at the latest
    fields: dict[str, str] = {}
    lines: list[str] = []  # the header being read: its first line and its continuation lines
    for line in chain((text if end < 0 else text[:end]).split("\n"), [""]):
        if lines and not line.startswith((" ", "\t")):  # the header in `lines` is complete
            name, _, value = lines[0].partition(":")
            value = "\n".join([value.lstrip(" \t"), *lines[1:]]).rstrip("\r\n")
            if "\n" in value:  # a folded value, re-indented as importlib.metadata does
                import textwrap

                value = textwrap.dedent(" " * 8 + value)
            fields.setdefault(name.lower(), value)
            lines = []
            if "name" in fields and "version" in fields:
                break
        if not _HEADER_LINE.match(line):
            break
        if line.startswith((" ", "\t")):
            if lines:  # a continuation line; one without a header before it is dropped
                lines.append(line)
        elif not line.startswith(("From ", ":")):
            lines = [line]
    return fields.get("name"), fields.get("version")


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
