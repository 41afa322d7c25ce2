"""Text views: lineage graphs (a tree, Graphviz dot, Mermaid), listings in columns, and the small formats
they share (times in the user's zone, durations, sizes, what tells a job apart).

Piped, a listing is plain tab-separated text, one line per row, nothing padded; in a terminal its columns
are aligned and fit the width: the uid (what users copy) stays whole and the other columns give way. Rows
are written as they come (the widths are measured on the first rows). rich is imported only by `tree()`.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from .lineage import Graph
from .listing import is_code_hash

# ---- small formats ------------------------------------------------------------------------------


def when(stamp: str | None, utc: bool = False) -> str:
    """An ISO time from the ledger in the user's zone (or UTC), labelled: `2026-12-01 14:03:22 CET`."""
    if not stamp:
        return ""
    if len(stamp) >= 19 and stamp[10] == "T" and stamp.endswith("+00:00"):  # as the ledger keeps times
        # zones differ from UTC by whole minutes: the minute is converted once, the seconds stay as they are
        minute, zone = _minute(stamp[:16], utc, time.timezone, time.daylight, time.tzname)
        return f"{minute}{stamp[16:19]} {zone}"
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC if utc else None)
    zone = "UTC" if utc else (moment.tzname() or moment.strftime("%z"))
    return f"{moment:%Y-%m-%d %H:%M:%S} {zone}"


@functools.lru_cache(maxsize=65536)
def _minute(stamp: str, utc: bool, *local_zone) -> tuple[str, str]:
    """(`YYYY-MM-DD HH:MM` in the user's zone or UTC, the zone's name) of a UTC minute `YYYY-MM-DDTHH:MM`;
    `local_zone` (the OS's zone settings) is part of the key, so a changed TZ is not answered from before."""
    moment = datetime.fromisoformat(stamp + "+00:00").astimezone(UTC if utc else None)
    zone = "UTC" if utc else (moment.tzname() or moment.strftime("%z"))
    return f"{moment:%Y-%m-%d %H:%M}", zone


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    if whole < 2 * 86400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"


def size(count: int | None) -> str:
    if count is None:
        return ""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} B"  # (not reached)


def job_detail(wildcards: dict | None, tag: str | None) -> str:
    """What tells a job apart from the other jobs of its rule: Snakemake wildcards, a Nextflow tag."""
    if not wildcards and tag in (None, ""):
        return ""
    parts = []
    if wildcards:
        parts.append(" ".join(f"{key}={value}" for key, value in wildcards.items()))
    if tag not in (None, ""):
        parts.append(f"({tag})")
    return " ".join(parts)


def transform_text(kind: str, name: str, version: str | None, explicit: bool = True) -> str:
    """`rule align`, `pipeline rnaseq 1.0` (a version that is only the hash of the code is left out)."""
    return f"{kind} {name}" + (f" {version}" if version and explicit else "")


def _explicit(transform) -> bool:
    return not is_code_hash(transform.version, transform.hash)


def _run_json(run) -> dict:
    data = run.json
    return data if isinstance(data, dict) else {}


# ---- columns --------------------------------------------------------------------------------------


@dataclass
class Column:
    name: str
    style: Callable[[str], str] | None = None  # colours in a terminal
    zone: bool = False  # times labelled with their zone: the label goes to the header in a terminal
    cut_left: bool = False  # shortened from the left (paths: their file name stays)


STATE_COLOURS = {
    "completed": "green",
    "cached": "cyan",
    "errored": "red",
    "aborted": "red",
    "unfinished": "magenta",
    "started": "yellow",
    "scheduled": "yellow",
    "changed": "yellow",
    "missing": "red",
    "deleted": "bright_black",
}


def coloured(text: str) -> str:
    import click

    colour = STATE_COLOURS.get(text.strip())
    return click.style(text, fg=colour) if colour else text


class Table:
    """Rows written as they come: tab-separated when piped, aligned to the first rows in a terminal.

    In a terminal narrower than the rows, `narrow` says what gives way, in order: (column name, width)
    shortens that column to the width (with "…"), (column name, 0) leaves the column out. Columns not
    named there (the uid) never shrink.
    """

    def __init__(
        self,
        columns: list[Column],
        *,
        tty: bool,
        width: int = 100,
        narrow: Iterable[tuple[str, int]] = (),
        measure: int = 50,
    ):
        self.columns, self.tty, self.width, self.measure = columns, tty, width, measure
        self.narrow = list(narrow)

    def lines(self, rows: Iterable[list[str]]) -> Iterator[str]:
        if not self.tty:
            for row in rows:
                yield "\t".join([_plain(cell) for cell in row])
            return
        rows = iter(rows)
        first = []
        for row in rows:
            first.append([_plain(cell) for cell in row])
            if len(first) >= self.measure:
                break
        names = [c.name for c in self.columns]
        zones = {i: _zone_of(first, i) for i, c in enumerate(self.columns) if c.zone}
        for i, zone in zones.items():
            if zone:
                names[i] = f"{names[i]} ({zone})"
                for row in first:
                    row[i] = _without_zone(row[i], zone)
        natural = [max([len(name)] + [len(r[i]) for r in first]) for i, name in enumerate(names)]
        widths = self.fit(natural)
        import click

        shown = [i for i, w in enumerate(widths) if w > 0]
        header = [_cut(names[i] if len(names[i]) <= widths[i] else self.columns[i].name, widths[i]) for i in shown]
        yield self._line([click.style(h, bold=True) for h in header], header, [widths[i] for i in shown])
        for row in first:
            yield self._row(row, widths, shown)
        for row in rows:
            cells = [_plain(cell) for cell in row]
            for i, zone in zones.items():
                if zone:
                    cells[i] = _without_zone(cells[i], zone)
            yield self._row(cells, widths, shown)

    def fit(self, natural: list[int]) -> list[int]:
        """Column widths within the terminal's (0: left out), taking the `narrow` steps in order."""
        widths = list(natural)
        index = {c.name: i for i, c in enumerate(self.columns)}

        def excess() -> int:
            shown = [w for w in widths if w > 0]
            return sum(shown) + 2 * (len(shown) - 1) - self.width

        for name, least in self.narrow:
            over = excess()
            if over <= 0:
                break
            i = index[name]
            if widths[i] == 0:
                continue
            if least == 0:
                widths[i] = 0
            else:
                widths[i] -= max(0, min(over, widths[i] - least))
        return widths

    def _row(self, cells: list[str], widths: list[int], shown: list[int]) -> str:
        bare = [_cut(cells[i], widths[i], self.columns[i].cut_left) for i in shown]
        styled = [self.columns[i].style(b) if self.columns[i].style else b for i, b in zip(shown, bare)]  # type: ignore[misc]
        return self._line(styled, bare, [widths[i] for i in shown])

    def _line(self, styled: list[str], plain: list[str], widths: list[int]) -> str:
        parts = []
        last = len(styled) - 1
        for i, (text, bare, width) in enumerate(zip(styled, plain, widths)):
            parts.append(text if i == last else text + " " * max(0, width - len(bare)))
        return "  ".join(parts).rstrip()


def _zone_of(rows: list[list[str]], i: int) -> str:
    """The zone label most of these times carry (`2026-12-01 14:03:22 CET` -> `CET`)."""
    labels = [row[i].rsplit(" ", 1)[1] for row in rows if row[i].count(" ") == 2]
    return max(set(labels), key=labels.count) if labels else ""


def _without_zone(text: str, zone: str) -> str:
    return text[: -len(zone) - 1] if text.endswith(" " + zone) else text


def _plain(cell) -> str:
    text = "" if cell is None else str(cell)
    return text.replace("\t", " ").replace("\n", " ") if "\t" in text or "\n" in text else text


def _cut(text: str, width: int, left: bool = False) -> str:
    if len(text) <= width:
        return text
    return "…" + text[len(text) - width + 1 :] if left else text[: max(0, width - 1)] + "…"


# ---- lineage: labels -------------------------------------------------------------------------------


def run_label(run, utc: bool = False) -> str:
    """`rule align sample=A [completed] run <uid>, <start time>`; a workflow run's reference after it
    (`snakemake_id=...`: a job's reference is the manager's bookkeeping, `flowledger show` has it)."""
    transform = run.transform
    name = transform_text(transform.type, transform.name, transform.version, _explicit(transform))
    data = _run_json(run)
    detail = job_detail(data.get("wildcards") if isinstance(data.get("wildcards"), dict) else None, data.get("tag"))
    started = f", {when(run.started_at, utc)}" if run.started_at else ""
    reference = f" {run.reference_type}={run.reference}" if run.reference and run.initiated_by_run_id is None else ""
    return f"{name}{' ' + detail if detail else ''} [{run.state}] run {run.uid}{started}{reference}"


def artifact_label(artifact, mark=None, relative_to: str | None = None) -> str:
    """`path (sha256:0123456789ab, v2)`, and `deleted` (gone when recorded), `changed on disk`, `missing`.

    With `relative_to` (a folder), a path inside it is shown relative to it."""
    gone = ", deleted" if artifact.state == "deleted" else ""
    kind = f"{artifact.kind}, " if artifact.kind not in ("file", "folder") else ""
    shown = f"{artifact.hash_type}:{artifact.hash[:12]}, " if artifact.hash else kind
    path = artifact.user_path or artifact.path
    if relative_to and path.startswith(relative_to.rstrip("/") + "/"):
        path = path[len(relative_to.rstrip("/")) + 1 :]
    return f"{path} ({shown}v{artifact.version}{gone}{_mark_text(artifact, mark)})"


def _mark_text(artifact, mark) -> str:
    state = _on_disk(artifact, mark)
    if state == "changed":
        return ", changed on disk" + (f": {mark.detail}" if mark.detail else "")
    if state == "missing":
        return ", missing on disk"
    return ""


def _on_disk(artifact, mark) -> str | None:
    """'changed' or 'missing' when the file differs now (a file deleted when recorded is just 'deleted')."""
    if mark is None or artifact.state == "deleted":
        return None
    state = getattr(mark.state, "value", mark.state)
    return state if state in ("changed", "missing") else None


# ---- lineage: a tree ----------------------------------------------------------------------------------


def tree_text(
    graph: Graph, upstream: bool = True, checked: dict | None = None, utc: bool = False, relative_to: str | None = None
) -> str:
    """The lineage as an indented tree in plain text (artifact <- run <- inputs <- ...; or downstream);
    paths inside the folder `relative_to` shown relative to it."""
    lines: list[str] = []
    for prefix, text in _tree_items(graph, upstream, checked or {}, utc, relative_to):
        lines.append(prefix + text)
    return "\n".join(lines)


def tree(graph: Graph, upstream: bool = True, checked: dict | None = None, utc: bool = False):
    """The same tree as a rich `Tree` (rich is imported here only)."""
    from rich.text import Text
    from rich.tree import Tree

    root = None
    stack: list = []
    for depth, text, _ in _tree_nodes(graph, upstream, checked or {}, utc):
        if root is None:
            root = Tree(Text(text))
            stack = [root]
            continue
        del stack[depth:]
        stack.append(stack[-1].add(Text(text)))
    return root


def _tree_items(
    graph: Graph, upstream: bool, checked: dict, utc: bool, relative_to: str | None
) -> Iterator[tuple[str, str]]:
    """(guide, label) per line: `├── `, `│   └── ` ..."""
    open_levels: list[bool] = []  # per depth: are more siblings to come?
    for depth, text, last in _tree_nodes(graph, upstream, checked, utc, relative_to):
        if depth == 0:
            yield "", text
            continue
        del open_levels[depth - 1 :]
        guide = "".join("│   " if more else "    " for more in open_levels)
        yield guide + ("└── " if last else "├── "), text
        open_levels.append(not last)


def _tree_nodes(
    graph: Graph, upstream: bool, checked: dict, utc: bool, relative_to: str | None = None
) -> Iterator[tuple[int, str, bool]]:
    """(depth, label, is the last of its siblings) per node, depth first; a node met again is not expanded."""
    children: dict = {}
    for source, target in graph.edges:
        parent, child = (target, source) if upstream else (source, target)
        children.setdefault(parent, []).append(child)
    replicated = set(graph.replications)

    def is_copy(parent, child) -> bool:
        """An edge that is a replication: artifact <- re-run (upstream), run -> its re-made artifact (down)."""
        (parent_kind, pid), (_, cid) = parent, child
        return ((cid, pid) if parent_kind == "artifact" else (pid, cid)) in replicated

    def label(node, parent=None) -> str:
        kind, key = node
        if kind == "artifact":
            artifact = graph.artifacts[key]
            text = artifact_label(artifact, checked.get(key), relative_to)
            if parent is not None and is_copy(parent, node):
                maker = graph.runs.get(artifact.run_id)
                made = f"run {maker.uid}" if maker else "an earlier run"
                return f"{text} (reproduced: the same bytes as {made} made)"
            return text
        text = run_label(graph.runs[key], utc)
        if parent is not None and is_copy(parent, node):
            return f"reproduced by {text}"
        return text

    seen = {graph.root}

    def grow(node, depth):
        kids = sorted(children.get(node, []), key=lambda child: (is_copy(node, child), label(child, node)))
        for index, child in enumerate(kids):
            last = index == len(kids) - 1
            text = label(child, node)
            if child in seen:
                yield depth, f"{text} (shown above)", last
                continue
            seen.add(child)
            yield depth, text, last
            if not (upstream and is_copy(node, child)):  # a re-run is shown, not walked up from
                yield from grow(child, depth + 1)

    yield 0, label(graph.root), True
    yield from grow(graph.root, 1)


# ---- lineage: dot and mermaid -------------------------------------------------------------------------

RUN_FILL = {
    "completed": "#d9f2d9",
    "cached": "#e4ecf7",
    "errored": "#f8d3d3",
    "aborted": "#f8d3d3",
    "unfinished": "#eddcf2",
    "started": "#fff2c2",
    "scheduled": "#fff2c2",
}
ARTIFACT_FILL = {"changed": "#ffe8a3", "missing": "#f8d3d3", "deleted": "#eeeeee"}


def short_names(paths: Iterable[str]) -> dict[str, str]:
    """Each path by its file name, with as many parent folders as it takes to tell it from the others."""
    paths = sorted(set(paths))
    parts = {p: p.rstrip("/").split("/") for p in paths}
    depth = dict.fromkeys(paths, 1)
    while True:
        names: dict[str, list[str]] = {}
        for p in paths:
            names.setdefault("/".join(parts[p][-depth[p] :]), []).append(p)
        clashes = [group for group in names.values() if len(group) > 1]
        grown = False
        for group in clashes:
            for p in group:
                if depth[p] < len(parts[p]):
                    depth[p] += 1
                    grown = True
        if not grown:
            return {p: "/".join(parts[p][-depth[p] :]) or p for p in paths}


def _short_run(run) -> str:
    data = _run_json(run)
    detail = job_detail(data.get("wildcards") if isinstance(data.get("wildcards"), dict) else None, data.get("tag"))
    transform = run.transform
    return transform_text(transform.type, transform.name, transform.version, _explicit(transform)) + (
        f"\n{detail}" if detail else ""
    )


def _artifact_status(artifact, mark) -> str:
    if artifact.state == "deleted":
        return "deleted"
    return _on_disk(artifact, mark) or "present"


def _short_artifact(artifact, name: str, mark) -> str:
    status = _artifact_status(artifact, mark)
    extra = [f"v{artifact.version}"] if artifact.version and artifact.version > 1 else []
    if status != "present":
        extra.append(status)
    return name + (f"\n{', '.join(extra)}" if extra else "")


def _details(artifact, mark) -> str:
    return artifact_label(artifact, mark) + f"\nuid {artifact.uid}"


def _node_id(node) -> str:
    kind, key = node
    return f"{kind[0]}{key}"


def dot(graph: Graph, checked: dict | None = None, utc: bool = False) -> str:
    """Graphviz: file names and rule/task names as labels, the rest in tooltips; coloured by status."""
    checked = checked or {}
    names = short_names(a.path for a in graph.artifacts.values())
    lines = [
        "digraph lineage {",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [color="#555555"];',
    ]
    for key, artifact in graph.artifacts.items():
        mark = checked.get(key)
        status = _artifact_status(artifact, mark)
        style = "filled" + (",dashed" if status in ("missing", "deleted") else "")
        width = ", penwidth=2" if ("artifact", key) == graph.root else ""
        lines.append(
            f'  a{key} [shape=note, style="{style}", fillcolor="{ARTIFACT_FILL.get(status, "#ffffff")}"{width}, '
            f'label="{_dot_text(_short_artifact(artifact, names[artifact.path], mark))}", '
            f'tooltip="{_dot_text(_details(artifact, mark))}"];'
        )
    for key, run in graph.runs.items():
        width = ", penwidth=2" if ("run", key) == graph.root else ""
        lines.append(
            f'  r{key} [shape=box, style="rounded,filled", fillcolor="{RUN_FILL.get(run.state, "#ffffff")}"{width}, '
            f'label="{_dot_text(_short_run(run))}", tooltip="{_dot_text(run_label(run, utc))}"];'
        )
    replicated = set(graph.replications)
    for source, target in graph.edges:
        copy = source[0] == "run" and (source[1], target[1]) in replicated
        extra = ' [style=dashed, label="reproduced"]' if copy else ""
        lines.append(f"  {_node_id(source)} -> {_node_id(target)}{extra};")
    lines.append("}")
    return "\n".join(lines)


def mermaid(graph: Graph, checked: dict | None = None, utc: bool = False) -> str:
    """Mermaid: short labels, classes by status, the details as `%%` comments under the graph."""
    checked = checked or {}
    names = short_names(a.path for a in graph.artifacts.values())
    lines = ["flowchart LR"]
    details = []
    used: set[str] = set()
    for key, artifact in graph.artifacts.items():
        mark = checked.get(key)
        status = _artifact_status(artifact, mark)
        used.add(status)
        lines.append(f'  a{key}["{_mermaid_text(_short_artifact(artifact, names[artifact.path], mark))}"]:::{status}')
        details.append(f"  %% a{key}: {_details(artifact, mark).replace(chr(10), ' ')}")
    for key, run in graph.runs.items():
        used.add(run.state)
        lines.append(f'  r{key}(["{_mermaid_text(_short_run(run))}"]):::{run.state}')
        details.append(f"  %% r{key}: {run_label(run, utc)}")
    replicated = set(graph.replications)
    for source, target in graph.edges:
        copy = source[0] == "run" and (source[1], target[1]) in replicated
        arrow = "-.->|reproduced|" if copy else "-->"
        lines.append(f"  {_node_id(source)} {arrow} {_node_id(target)}")
    for status in sorted(used):
        fill = RUN_FILL.get(status) or ARTIFACT_FILL.get(status) or "#ffffff"
        dashed = ",stroke-dasharray:4 3" if status in ("missing", "deleted") else ""
        lines.append(f"  classDef {status} fill:{fill},stroke:#555555{dashed}")
    return "\n".join(lines + details)


def _dot_text(text: str) -> str:
    return _escape(text).replace("\n", "\\n")


def _mermaid_text(text: str) -> str:
    return _escape(text).replace("\n", "<br/>")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")


def terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((100, 24)).columns if os.isatty(1) else 100
