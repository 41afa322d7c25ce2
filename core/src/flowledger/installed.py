"""The installed distributions, found where and in the order `importlib.metadata` finds them, read cheaply.

Recording starts in the user's process, so this runs on every `fl.track()` and pipeline start: importing
`importlib.metadata` (with the email package it parses metadata with) and parsing each distribution's whole
metadata file costs ~40 ms. Here each metadata file is read once and only its header lines are looked at
(for Name and Version), and entry points come from each `entry_points.txt`. The `*.dist-info` folder names
cannot replace the metadata: they spell the name normalized (`charset_normalizer`, `pyyaml`) where pip
freeze shows `charset-normalizer`, `PyYAML`.

Even so, reading 150-odd `entry_points.txt` files costs ~10 ms on every start, to find the few plugins: so a
group's entry points are remembered per installation in the user's cache folder, with the modification
times of the folders holding distributions (installing, upgrading or removing a package changes its
folder's), as the environment snapshot is.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import import_module
from importlib.machinery import PathFinder
from itertools import chain
from typing import Any

from .paths import write_whole

CACHE_FILES = 64  # entry-point caches kept in the user's cache folder

# A header or continuation line, as the email parser (and so importlib.metadata) tells them from the body
_HEADER_LINE = re.compile(r"From |[\041-\071\073-\176]*:|[\t ]")


def names_and_versions() -> Iterator[tuple[str | None, str | None]]:
    """(Name, Version) of each distribution, in the order of `importlib.metadata.distributions()`."""
    for found in distributions():
        if isinstance(found, str):
            yield _name_and_version(_metadata_text(found))
        else:
            yield (found.metadata.get_all("Name") or [None])[0], (found.metadata.get_all("Version") or [None])[0]


def entry_points(group: str, *, fresh: bool = False) -> list[EntryPoint]:
    """The entry points of `group`, as importlib.metadata lists them: from the cache while this installation
    is unchanged (`fresh`: read them again)."""
    cache = _cache_file(group)
    known = None if fresh or cache is None else _cached(cache)
    if known is not None:
        return known
    found = list(_scan(group))
    if cache is not None and all(isinstance(info, str) for info in distributions()):  # (other finders: rare)
        _save(cache, found)
    return found


def _scan(group: str) -> Iterator[EntryPoint]:
    """The entry points of `group`, from each distribution's entry_points.txt (the first one found of a
    distribution wins, as in importlib.metadata); only a distribution that has some is read further."""
    seen: set[str] = set()
    for found in distributions():
        if isinstance(found, str):
            key = _normalized(os.path.basename(found).rpartition(".")[0].partition("-")[0])
            if key in seen:
                continue
            seen.add(key)
            pairs = _section(_read(os.path.join(found, "entry_points.txt")), group)
            if pairs:
                name, version = _name_and_version(_metadata_text(found))
                yield from (EntryPoint(entry, value, name, version) for entry, value in pairs)
        else:
            name, version = found.metadata.get("Name"), found.metadata.get("Version")
            if _normalized(name or "") in seen:
                continue
            seen.add(_normalized(name or ""))
            yield from (EntryPoint(e.name, e.value, name, version) for e in found.entry_points.select(group=group))


def installation_key() -> str:
    """The interpreter and where it looks for packages."""
    text = "\n".join([sys.executable, sys.version, sys.prefix, *map(str, sys.path)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def package_folders() -> list[tuple[str, int]]:
    """(folder, modification time) of each folder that holds distributions, or is named like one that can."""
    named = [e for e in sys.path if isinstance(e, str) and e.endswith(("site-packages", "dist-packages"))]
    holding = [os.path.dirname(found) for found in distributions() if isinstance(found, str)]
    found = []
    for entry in dict.fromkeys([*holding, *named]):
        try:
            found.append((entry, os.stat(entry).st_mtime_ns))
        except OSError:
            continue
    return found


def unchanged(folders: list[tuple[str, int]]) -> bool:
    """Whether each folder still has the modification time it had."""
    try:
        return all(os.stat(entry).st_mtime_ns == mtime for entry, mtime in folders)
    except OSError:
        return False


def _cache_file(group: str) -> str | None:
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(home):
        return None
    return os.path.join(home, "flowledger", f"entry-points-{installation_key()}-{_normalized(group)}.json")


def _cached(cache: str) -> list[EntryPoint] | None:
    try:
        with open(cache, encoding="utf-8") as file:
            data = json.load(file)
        if not unchanged([(entry, int(mtime)) for entry, mtime in data["folders"]]):
            return None
        return [EntryPoint(*fields) for fields in data["entry_points"]]
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _save(cache: str, found: list[EntryPoint]) -> None:
    """A cache folder that cannot be written is no cache, not an error. (One
    file per interpreter and sys.path, whose first folder is the script's: the oldest beyond CACHE_FILES go.)"""
    data = {"folders": package_folders(), "entry_points": [dataclasses.astuple(entry) for entry in found]}
    folder = os.path.dirname(cache)
    try:
        write_whole(cache, json.dumps(data))
        caches = [os.path.join(folder, name) for name in os.listdir(folder) if name.startswith("entry-points-")]
        if len(caches) > CACHE_FILES:
            for old in sorted(caches, key=_mtime)[: len(caches) - CACHE_FILES]:
                os.unlink(old)
    except OSError:
        pass


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class EntryPoint:
    name: str
    value: str  # "module:attribute"
    dist_name: str | None
    dist_version: str | None

    def load(self) -> object:
        module, _, attribute = re.sub(r"\s*\[.*\]\s*$", "", self.value).partition(":")  # (extras dropped)
        found: object = import_module(module.strip())
        for part in filter(None, attribute.strip().split(".")):
            found = getattr(found, part)
        return found


def _section(text: str, group: str) -> list[tuple[str, str]]:
    """The `name = value` lines of the `[group]` section of an entry_points.txt."""
    pairs, inside = [], False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            inside = line[1:-1].strip() == group
        elif inside and "=" in line and not line.startswith(("#", ";")):
            name, _, value = line.partition("=")
            pairs.append((name.strip(), value.strip()))
    return pairs


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError:
        return ""


def distributions() -> list[Any]:
    """Each distribution as importlib.metadata orders them: the path of its info folder, or (from a zip
    or another finder: rare) an `importlib.metadata.Distribution`. Listed once per `sys.path` (plugins
    and the environment snapshot both ask)."""
    return _distributions(tuple(sys.path), tuple(map(id, sys.meta_path)))


@functools.lru_cache(maxsize=4)
def _distributions(path: tuple[str, ...], finders: tuple[int, ...]) -> list[Any]:
    found: list[Any] = []
    for finder in sys.meta_path:
        if finder is PathFinder:
            for entry in path:
                found += _in_path_entry(entry)
        elif hasattr(finder, "find_distributions"):  # another finder (rare): its distributions as it gives them
            from importlib import metadata

            found += finder.find_distributions(metadata.DistributionFinder.Context())
    return found


def _in_path_entry(entry: Any) -> Iterator[Any]:
    """The distributions in one sys.path folder, found as importlib.metadata's `Lookup` finds them."""
    try:
        children = os.listdir(entry or ".") if isinstance(entry, str) else None
    except OSError:  # a missing folder (python311.zip, usually) has nothing, unless it is a file: a zip
        if not os.path.isfile(entry):
            return
        children = None
    if children is None:  # a zip file (an .egg, a .pyz), a path that is not a str: importlib.metadata's way
        from importlib import metadata

        yield from metadata.distributions(path=[entry])
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
    yield from chain(chain.from_iterable(infos.values()), eggs)


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
