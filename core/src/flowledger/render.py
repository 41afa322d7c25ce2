"""Lineage graphs as text: a rich tree (from the root back to raw inputs), Graphviz dot, or Mermaid."""

from rich.text import Text
from rich.tree import Tree

from .lineage import Graph


def run_label(run) -> str:
    transform = run.transform
    version = f" {transform.version}" if transform.version else ""
    reference = f" {run.reference_type}={run.reference}" if run.reference else ""
    return f"{transform.type} {transform.name}{version} [{run.status}] run {run.uid}{reference}"


def artifact_label(artifact) -> str:
    gone = ", deleted" if artifact.state == "deleted" else ""
    kind = f"{artifact.kind}, " if artifact.kind not in ("file", "folder") else ""
    shown = f"{artifact.hash_type}:{artifact.hash[:12]}, " if artifact.hash else kind
    return f"{artifact.path} ({shown}v{artifact.version}{gone})"


def tree(graph: Graph, upstream: bool = True) -> Tree:
    """Nested: artifact <- run <- its inputs <- ... (or downstream when `upstream` is False)."""
    children: dict = {}
    for source, target in graph.edges:
        parent, child = (target, source) if upstream else (source, target)
        children.setdefault(parent, []).append(child)

    def label(node):
        kind, key = node
        return artifact_label(graph.artifacts[key]) if kind == "artifact" else run_label(graph.runs[key])

    root = Tree(Text(label(graph.root)))
    seen = {graph.root}

    def grow(branch, node):
        for child in sorted(children.get(node, []), key=label):
            if child in seen:
                branch.add(Text(f"{label(child)} (shown above)"))
                continue
            seen.add(child)
            grow(branch.add(Text(label(child))), child)

    grow(root, graph.root)
    return root


def _node_id(node) -> str:
    kind, key = node
    return f"{kind[0]}{key}"


def dot(graph: Graph) -> str:
    lines = ["digraph lineage {", "  rankdir=LR;"]
    for key, artifact in graph.artifacts.items():
        lines.append(f'  a{key} [shape=note, label="{_escape(artifact_label(artifact))}"];')
    for key, run in graph.runs.items():
        lines.append(f'  r{key} [shape=box, style=rounded, label="{_escape(run_label(run))}"];')
    lines += [f"  {_node_id(s)} -> {_node_id(t)};" for s, t in graph.edges]
    lines.append("}")
    return "\n".join(lines)


def mermaid(graph: Graph) -> str:
    lines = ["flowchart LR"]
    for key, artifact in graph.artifacts.items():
        lines.append(f'  a{key}["{_escape(artifact_label(artifact))}"]')
    for key, run in graph.runs.items():
        lines.append(f'  r{key}(["{_escape(run_label(run))}"])')
    lines += [f"  {_node_id(s)} --> {_node_id(t)}" for s, t in graph.edges]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")
