"""The structure ARCHITECTURE.md describes, checked: no import cycles in the core, and plugins that import
nothing from the core but its plugin API (read from the source, so lazy imports inside functions count too)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "core" / "src" / "flowledger"
PLUGINS = {name: next((ROOT / "plugins" / name / "src").iterdir()) for name in ("snakemake", "redun", "nextflow")}
MANAGERS = ("snakemake", "redun", "nextflow")
PLUGIN_API = {"flowledger.plugin_api"}


def module_name(path: Path, src: Path) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, name: str) -> set[str]:
    """The absolute names a module imports at run time, relative ones resolved ("from . import x": pkg.x)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _executed_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.update(f"{base}.{alias.name}" for alias in node.names)
            found.add(base)
    return found


def _executed_nodes(tree: ast.AST):
    """Every node, except those under `if TYPE_CHECKING:` (imports for type hints only never run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            continue
        yield node
        yield from _executed_nodes(node)


def modules(src: Path) -> dict[str, Path]:
    return {module_name(path, src.parent): path for path in src.rglob("*.py")}


def test_the_core_has_no_import_cycle():
    known = modules(CORE)
    graph = {
        name: {
            target for target in imports(path, name) if target in known and target != name and target != "flowledger"
        }  # every submodule runs the package first: not an edge
        for name, path in known.items()
    }
    cycles, done = [], set()

    def visit(node, trail):
        if node in trail:
            cycles.append([*trail[trail.index(node) :], node])
            return
        if node in done:
            return
        for target in sorted(graph[node]):
            visit(target, [*trail, node])
        done.add(node)

    for name in sorted(graph):
        visit(name, [])
    assert cycles == [], "import cycles in the core: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_core_imports_no_workflow_manager():
    for name, path in modules(CORE).items():
        manager_imports = {i for i in imports(path, name) if i.split(".")[0] in MANAGERS}
        assert not manager_imports, f"{name} imports {manager_imports}"


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_plugins_import_only_the_plugin_api_from_the_core(plugin):
    src = PLUGINS[plugin]
    for name, path in modules(src).items():
        core_imports = {i for i in imports(path, name) if i.split(".")[0] == "flowledger"}
        beyond = {
            i
            for i in core_imports
            if i != "flowledger" and not any(i == api or i.startswith(api + ".") for api in PLUGIN_API)
        }
        assert not beyond, f"{name} imports {sorted(beyond)} from the core: use flowledger.plugin_api"
        others = {i for i in imports(path, name) if i.split(".")[0] in {p.name for p in PLUGINS.values()} - {src.name}}
        assert not others, f"{name} reaches into another plugin: {others}"


def test_test_modules_have_unique_names():
    """Test folders are not packages, so pytest imports every test module and helper by its base name."""
    names = [p.name for p in (ROOT / "tests").rglob("*.py") if p.name != "conftest.py" and "data" not in p.parts]
    assert sorted({n for n in names if names.count(n) > 1}) == []
