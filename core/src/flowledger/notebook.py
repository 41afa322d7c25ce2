"""Jupyter notebooks: find the running notebook, check it ran top to bottom, render it as HTML.

Interactive (Jupyter Server, VS Code) and headless (`jupyter nbconvert --execute`, nbclient, papermill):
what ran is the kernel's own history (its inputs, and since IPython 9 its outputs), which the saved
file may not show: a headless runner saves the executed copy after the kernel is done, if at all.
"""

import ast
import base64
import json
import os
import sys
from datetime import datetime
from pathlib import Path

from .errors import FlowledgerError

# papermill starts the cell it injects with this comment (its Python translator's)
PAPERMILL_PARAMETERS = "# Parameters"


def running_kernel():
    """The IPython kernel shell when this code runs in a notebook kernel, else None (IPython not imported)."""
    if "IPython" not in sys.modules:
        return None
    shell = sys.modules["IPython"].get_ipython()
    return shell if shell is not None and type(shell).__name__ == "ZMQInteractiveShell" else None


def notebook_path(shell, given: str | os.PathLike | None = None) -> Path:
    """The running notebook: `given`, else VS Code's `__vsc_ipynb_file__`, else JPY_SESSION_NAME, else the
    notebook that holds every cell the kernel ran among those the runner named or the kernel's folder has.

    Jupyter Server sets JPY_SESSION_NAME to the notebook's absolute path, or, when a client gives no
    session name, to its path relative to the server's root; the kernel runs in the notebook's folder.
    Headless runners tell the kernel less: nbconvert and nbclient start it in the notebook's folder,
    papermill in its own, where the executed copy it saves first names its input
    (`metadata.papermill.input_path`), and command-line runners name the notebook in their arguments.
    """
    tried = [str(c) for c in (given, shell.user_ns.get("__vsc_ipynb_file__"), os.environ.get("JPY_SESSION_NAME")) if c]
    for candidate in tried:
        path = Path(candidate).expanduser()
        for option in (path, Path(path.name)) if not path.is_absolute() else (path,):
            if option.suffix == ".ipynb" and option.is_file():
                return option.absolute()
    named, runner_folder = _named_by_runner()
    ran = {cell for cell in _ran(shell) if not _is_injected(cell)}
    by_runner = _holding(ran, named, runner_folder)
    found = by_runner if len(by_runner) == 1 else _holding(ran, [*named, *Path.cwd().glob("*.ipynb")], runner_folder)
    if len(found) == 1:
        return found[0]
    listed = ", ".join(sorted(p.name for p in found)) or "none"
    raise FlowledgerError(
        f"cannot tell which notebook is running (tried: {', '.join(tried) or 'no notebook path given'}; "
        f"notebooks holding the cells that ran, named by the runner or in {Path.cwd()}: {listed}): "
        "save it, or call fl.track(path='analysis.ipynb')"
    )


def _named_by_runner() -> tuple[list[Path], Path | None]:
    """The notebooks named on the command line of the process that started the kernel (`jupyter nbconvert
    --execute a.ipynb`, `papermill in.ipynb out.ipynb`), and its folder, where the system shows them
    (Linux's /proc); else nothing."""
    pid = os.environ.get("JPY_PARENT_PID") or str(os.getppid())
    try:
        arguments = Path(f"/proc/{int(pid)}/cmdline").read_bytes().split(b"\0")
        folder = Path(os.readlink(f"/proc/{int(pid)}/cwd"))
    except (OSError, ValueError):
        return [], None
    return [folder / os.fsdecode(a) for a in arguments if a.endswith(b".ipynb")], folder


def _holding(ran: set[str], paths: list[Path], runner_folder: Path | None) -> list[Path]:
    """Those of `paths` whose code cells include every cell that ran; a papermill output stands for its
    input (relative to the kernel's folder or the runner's), when that is here to read."""
    found = set()
    for path in paths:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if not ran <= set(_code_sources(document)):
                continue
        except (OSError, ValueError, AttributeError):
            continue
        source = (document.get("metadata", {}).get("papermill") or {}).get("input_path")
        if isinstance(source, str) and source.endswith(".ipynb"):
            inputs = [Path(source), *([runner_folder / source] if runner_folder else [])]
            path = next((p for p in inputs if p.is_file()), path)
        found.add(Path(os.path.abspath(path)))
    return sorted(found)


def _ran(shell) -> list[str]:
    """The cells the kernel ran, in order, stripped (raw: magics as typed), the running one last."""
    return [s.strip() for s in shell.history_manager.input_hist_raw[1:] if s.strip()]


def _is_injected(source: str) -> bool:
    return source.startswith(PAPERMILL_PARAMETERS)


def _code_sources(document: dict) -> list[str]:
    sources = ["".join(c.get("source", "")) for c in document.get("cells", []) if c.get("cell_type") == "code"]
    return [s.strip() for s in sources if s.strip()]


def code_cells(path: Path) -> list[str]:
    """The non-empty code cells of the notebook as saved, stripped."""
    try:
        return _code_sources(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, AttributeError) as error:
        raise FlowledgerError(f"notebook {path} cannot be read: {error}") from None


def source_code(path: Path) -> str:
    """What identifies the notebook's version: its code cells (not outputs, not markdown)."""
    return "\n\n".join(code_cells(path))


def injected_parameters(shell, path: Path | None) -> dict | None:
    """The parameters papermill injected, for the run's json: the last cell that ran starting with
    `# Parameters` and not in the notebook at `path` (a cell of the user's own may start so too).

    papermill writes one `name = value` line per parameter; a value that is not a literal is kept as text.
    """
    own = set(code_cells(path)) if path else set()
    injected = [cell for cell in _ran(shell) if _is_injected(cell) and cell not in own]
    if not injected:
        return None
    params = {}
    try:
        for node in ast.parse(injected[-1]).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    value = ast.literal_eval(node.value)
                    json.dumps(value)
                except (ValueError, TypeError, SyntaxError):
                    value = ast.get_source_segment(injected[-1], node.value)
                params[node.targets[0].id] = value
    except SyntaxError:
        return None
    return params or None


def keep_outputs(shell) -> None:
    """Have the kernel keep displayed outputs (plots, tables) in its history, as it keeps printed text and
    results, so that a report built from the history shows them (ipykernel leaves this off by default)."""
    if hasattr(shell.display_pub, "store_display_history"):
        shell.display_pub.store_display_history = True


def _is_finish_cell(source: str) -> bool:
    return ".finish(" in source or source.startswith("finish(")


def is_consecutive(path: Path, shell) -> bool:
    """Did the code cells run once each, top to bottom, without gaps (execution counts 1, 2, 3, ...)?

    The kernel's raw input history (magics untransformed) is compared with the saved notebook's code
    cells: the `finish()` cell and papermill's injected parameters are skipped, and cells after the last
    one run are forgiven; a cell run twice, out of order or not in the saved notebook makes it False.
    """
    cells = [c for c in code_cells(path) if not _is_finish_cell(c) and not _is_injected(c)]
    ran = [s for s in _ran(shell) if not _is_finish_cell(s) and not _is_injected(s)]
    return ran == cells[: len(ran)]


def html_report(path: Path, folder: Path, run_uid: str, shell=None) -> Path | None:
    """The notebook as HTML (one file per run), when nbconvert is installed.

    The saved file when it shows what the kernel ran (each cell's last run, by execution count); else,
    headless runs always, the cells as the kernel ran them, from its history, with a note saying so.
    """
    try:
        import nbformat
        from nbconvert import HTMLExporter
    except ImportError:
        return None
    notebook = nbformat.read(path, as_version=4)
    if shell is not None and not _saved_shows_what_ran(notebook, shell):
        notebook = _as_ran(notebook, path, shell)
    body, _ = HTMLExporter().from_notebook_node(notebook, resources={"metadata": {"name": path.stem}})
    target = folder / f"{path.stem}-{run_uid}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    return target


def _history(shell) -> list[tuple[int, str]]:
    """(execution count, raw source) of each non-empty cell the kernel ran, the running one included."""
    return [(n, s) for n, s in enumerate(shell.history_manager.input_hist_raw) if n and s.strip()]


def _saved_shows_what_ran(notebook, shell) -> bool:
    """Does the saved file hold each cell with the count of its last run (the running cell aside)?"""
    last_run = {source.strip(): n for n, source in _history(shell)[:-1]}
    saved = {(c.source.strip(), c.get("execution_count")) for c in notebook.cells if c.cell_type == "code"}
    return all((source, n) in saved for source, n in last_run.items())


def _as_ran(saved, path: Path, shell):
    """The cells the kernel ran, in the order it ran them, with the outputs its history kept; the saved
    file's other cells (markdown) go before the first run of the code cell they precede in it."""
    from nbformat import v4

    before: dict[str, list] = {}  # a code cell's source -> the cells just before it in the saved file
    waiting: list = []
    for cell in saved.cells:
        if cell.cell_type != "code":
            waiting.append(cell)
        elif cell.source.strip():
            before.setdefault(cell.source.strip(), []).extend(waiting)
            waiting = []
    ran = _history(shell)
    missing = len({s.strip() for _, s in ran if not _is_injected(s.strip())} - set(before))
    cells = []
    for n, source in ran:
        cells += before.pop(source.strip(), [])
        cells.append(v4.new_code_cell(source, execution_count=n, outputs=_outputs(shell.history_manager, n)))
    saved_at = datetime.fromtimestamp(path.stat().st_mtime).isoformat(sep=" ", timespec="seconds")
    why = f"{missing} of the cells that ran are not in it" if missing else "it was saved before they ran"
    note = v4.new_markdown_cell(
        f"*Recorded by flowledger: the cells as this notebook's kernel ran them (In [n] is the order), with "
        f"the outputs its history kept. The saved file {path.name} (saved {saved_at}) is older: {why}.*"
    )
    return v4.new_notebook(cells=[note, *cells, *waiting], metadata=saved.metadata)


def _outputs(history, n: int) -> list:
    """Cell `n`'s outputs as notebook outputs: printed text, displays, its result, its error (IPython 9
    keeps them in `history.outputs`; earlier versions only the text of results)."""
    from nbformat import v4

    kept = getattr(history, "outputs", None)
    if kept is None:
        text = history.output_hist_reprs.get(n)
        return [v4.new_output("execute_result", data={"text/plain": text}, execution_count=n)] if text else []
    outputs = []
    for output in kept.get(n, []):
        kind, bundle = output.output_type, output.bundle
        if kind in ("out_stream", "err_stream"):
            name = "stdout" if kind == "out_stream" else "stderr"
            outputs.append(v4.new_output("stream", name=name, text="".join(bundle.get("stream", []))))
        elif kind == "execute_result":
            outputs.append(v4.new_output("execute_result", data=_jsonable(bundle), execution_count=n))
        else:
            outputs.append(v4.new_output("display_data", data=_jsonable(bundle)))
    error = getattr(history, "exceptions", {}).get(n)
    if error:
        parts = {
            "ename": error.get("ename", ""),
            "evalue": error.get("evalue", ""),
            "traceback": error.get("traceback", []),
        }
        outputs.append(v4.new_output("error", **parts))
    return outputs


def _jsonable(bundle: dict) -> dict:
    """A display bundle as a notebook stores it: binary data (an image's bytes) base64-encoded."""
    return {k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in bundle.items()}
