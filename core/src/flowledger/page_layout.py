"""The lineage page's layout: where each node goes, computed in Python rather than in the browser.

Layered by longest path from the raw inputs (left to right), ordered within each layer by barycenters
(fewer crossings), each workflow run's nodes in a band of rows of their own, drawn as its box.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from typing import Any

COLUMN, ROW, BAND_GAP = 230, 46, 3  # layout grid: pixels per layer and per row; rows between bands
NODE_WIDTH, NODE_HEIGHT, BOX_PADDING = 170, 28, 22  # pixels; the page draws nodes this size


def layout(
    ids: list[str], edges: list[tuple[str, str]], parents: dict[str, str | None]
) -> dict[str, tuple[float, float]]:
    """(x, y) of each node: a layered layout, left to right.

    Layers: the longest path from a raw input (a cycle, which a ledger should not hold, is broken
    where it is met), raw inputs pulled next to their first reader. Bands: each workflow run's nodes
    (`parents`: a node's box) keep to a band of rows of their own, so that boxes never overlap; a file
    outside every box joins the band it is drawn next to, when it does not fall within the box's layers.
    Rows: ordered by the barycenters of their neighbours, a few sweeps each way.
    """
    succ: dict[str, list[str]] = {n: [] for n in ids}
    pred: dict[str, list[str]] = {n: [] for n in ids}
    for source, target in edges:
        if source in succ and target in succ and source != target:
            succ[source].append(target)
            pred[target].append(source)
    rank = _ranks(ids, succ, pred)
    band = _bands(ids, succ, pred, rank, parents)

    columns: dict[tuple[str, int], list[str]] = defaultdict(list)
    for node in _dfs_order(ids, succ, pred):
        columns[band[node], rank[node]].append(node)
    first: dict[str, int] = {}  # band -> its first layer, and its height in rows
    height: dict[str, int] = {}
    for (name, r), nodes in columns.items():
        first[name] = min(first.get(name, r), r)
        height[name] = max(height.get(name, 0), len(nodes))
    band_names = sorted(first, key=lambda b: (b != "", first[b], b))  # files outside every box on top
    top, row = {}, 0
    for name in band_names:
        top[name], row = row, row + height[name] + BAND_GAP

    y = {}

    def place(column_key: tuple[str, int]) -> None:
        for index, node in enumerate(columns[column_key]):
            y[node] = top[column_key[0]] + index

    by_rank: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for key in columns:
        place(key)
        by_rank[key[1]].append(key)
    ranks = sorted(by_rank)
    for neighbours in (pred, succ, pred, succ):  # downward sweeps by predecessors, upward by successors
        for r in ranks if neighbours is pred else ranks[::-1]:
            for key in by_rank[r]:
                columns[key].sort(key=functools.partial(_barycenter, neighbours=neighbours, y=y))
                place(key)
    for r in ranks:  # a short column sits level with its neighbours, within its band
        for key in by_rank[r]:
            nodes = columns[key]
            room = height[key[0]] - len(nodes)
            if room <= 0:
                continue
            wanted = [y[m] for n in nodes for m in (*pred[n], *succ[n])]
            if not wanted:
                continue
            shift = round(sum(wanted) / len(wanted) - (top[key[0]] + (len(nodes) - 1) / 2))
            shift = max(0, min(room, shift))
            for n in nodes:
                y[n] += shift
    return {n: (rank[n] * COLUMN, y[n] * ROW) for n in ids}


def box_geometry(
    positions: dict[str, tuple[float, float]], parents: dict[str, str | None]
) -> dict[str, tuple[float, float, float, float]]:
    """(x, y, width, height) of each box: around the nodes inside it, and around its inner boxes."""
    bounds: dict[str, list[float]] = {}
    for node, (x, y) in positions.items():
        box, depth = parents.get(node), 1
        while box:
            pad = BOX_PADDING * depth
            left, top, right, bottom = (
                x - NODE_WIDTH / 2 - pad,
                y - NODE_HEIGHT / 2 - pad,
                x + NODE_WIDTH / 2 + pad,
                y + NODE_HEIGHT / 2 + pad,
            )
            found = bounds.setdefault(box, [left, top, right, bottom])
            found[:] = [min(found[0], left), min(found[1], top), max(found[2], right), max(found[3], bottom)]
            box, depth = parents.get(box), depth + 1
    return {box: ((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0) for box, (x0, y0, x1, y1) in bounds.items()}


def extent(nodes: list[dict[str, Any]]) -> list[float]:
    """[left, top, right, bottom] of everything drawn (the page fits its first view to it without measuring)."""
    placed = [n for n in nodes if "x" in n]
    if not placed:
        return [0, 0, 0, 0]
    half = [(n.get("width", NODE_WIDTH) / 2, n.get("height", NODE_HEIGHT) / 2) for n in placed]
    return [
        min(n["x"] - w for n, (w, _) in zip(placed, half)),
        min(n["y"] - h for n, (_, h) in zip(placed, half)) - 30,  # a box's label sits above it
        max(n["x"] + w for n, (w, _) in zip(placed, half)),
        max(n["y"] + h for n, (_, h) in zip(placed, half)),
    ]


def _ranks(ids: list[str], succ: dict[str, list[str]], pred: dict[str, list[str]]) -> dict[str, int]:
    waiting = {n: len(pred[n]) for n in ids}
    rank = dict.fromkeys(ids, 0)
    ready = [n for n in ids if waiting[n] == 0]
    done: set[str] = set()
    left = list(reversed(ids))
    while len(done) < len(ids):
        if not ready:  # a cycle: go on from the first node not yet placed
            while left[-1] in done:
                left.pop()
            ready.append(left[-1])
        node = ready.pop()
        if node in done:
            continue
        done.add(node)
        for nxt in succ[node]:
            if nxt not in done:
                rank[nxt] = max(rank[nxt], rank[node] + 1)
                waiting[nxt] -= 1
                if waiting[nxt] == 0:
                    ready.append(nxt)
    for node in ids:  # raw inputs next to their first reader
        if not pred[node] and succ[node]:
            rank[node] = max(0, min(rank[s] for s in succ[node]) - 1)
    return rank


def _bands(
    ids: list[str],
    succ: dict[str, list[str]],
    pred: dict[str, list[str]],
    rank: dict[str, int],
    parents: dict[str, str | None],
) -> dict[str, str]:
    def outermost(node: str) -> str:
        box = parents.get(node)
        while box and parents.get(box):
            box = parents[box]
        return box or ""

    band = {n: outermost(n) for n in ids}
    spans: dict[str, tuple[int, int]] = {}
    for node, name in band.items():
        if name:
            low, high = spans.get(name, (rank[node], rank[node]))
            spans[name] = (min(low, rank[node]), max(high, rank[node]))
    for node in ids:
        if band[node]:
            continue
        near = {band[m] for m in (*pred[node], *succ[node])}
        if len(near) == 1 and "" not in near:
            (name,) = near
            low, high = spans[name]
            if not low <= rank[node] <= high:
                band[node] = name
    return band


def _dfs_order(ids: list[str], succ: dict[str, list[str]], pred: dict[str, list[str]]) -> list[str]:
    """Every node once, chains kept together: depth first from each raw input in turn."""
    seen: set[str] = set()
    order = []
    for start in [n for n in ids if not pred[n]] + ids:
        stack = [start]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            order.append(node)
            stack.extend(reversed(succ[node]))
    return order


def _barycenter(node: str, neighbours: dict[str, list[str]], y: dict[str, int]) -> float:
    near = neighbours[node]
    return sum(y[n] for n in near) / len(near) if near else y[node]
