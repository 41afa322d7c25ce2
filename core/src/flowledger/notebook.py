"""Jupyter notebooks: find the running notebook, check it ran top to bottom, render it as HTML."""

import json
import os
import sys
from pathlib import Path

from .errors import FlowledgerError


def running_kernel():
    """The IPython kernel shell when this code runs in a notebook kernel, else None (IPython not imported)."""
    if "IPython" not in sys.modules:
        return None
    shell = sys.modules["IPython"].get_ipython()
    return shell if shell is not None and type(shell).__name__ == "ZMQInteractiveShell" else None


def notebook_path(shell, given: str | os.PathLike | None = None) -> Path:
    """The running notebook: `given`, else VS Code's `__vsc_ipynb_file__`, else JPY_SESSION_NAME.

    Jupyter Server sets JPY_SESSION_NAME to the notebook's absolute path, or, when a client gives no
    session name, to its path relative to the server's root; the kernel runs in the notebook's folder.
    """
    tried = [str(c) for c in (given, shell.user_ns.get("__vsc_ipynb_file__"), os.environ.get("JPY_SESSION_NAME")) if c]
    for candidate in tried:
        path = Path(candidate).expanduser()
        for option in (path, Path(path.name)) if not path.is_absolute() else (path,):
            if option.suffix == ".ipynb" and option.is_file():
                return option.absolute()
    raise FlowledgerError(
        f"cannot tell which notebook is running (tried: {', '.join(tried) or 'nothing'}): "
        "save it, or call fl.track(path='analysis.ipynb')"
    )


def code_cells(path: Path) -> list[str]:
    """The non-empty code cells of the notebook as saved, stripped."""
    try:
        cells = json.loads(path.read_text())["cells"]
    except (OSError, ValueError, KeyError) as error:
        raise FlowledgerError(f"notebook {path} cannot be read: {error}") from None
    sources = ["".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code"]
    return [s.strip() for s in sources if s.strip()]


def source_code(path: Path) -> str:
    """What identifies the notebook's version: its code cells (not outputs, not markdown)."""
    return "\n\n".join(code_cells(path))


def _is_finish_cell(source: str) -> bool:
    return ".finish(" in source or source.startswith("finish(")


def is_consecutive(path: Path, shell) -> bool:
    """Did the code cells run once each, top to bottom, without gaps (execution counts 1, 2, 3, ...)?

    The kernel's raw input history (magics untransformed) is compared with the saved notebook's code
    cells: the `finish()` cell is skipped and cells after the last one run are forgiven; a cell run
    twice, out of order or not in the saved notebook makes it False.
    """
    cells = [c for c in code_cells(path) if not _is_finish_cell(c)]
    ran = [s.strip() for s in shell.history_manager.input_hist_raw[1:] if s.strip()]
    ran = [s for s in ran if not _is_finish_cell(s)]
    return ran == cells[: len(ran)]


def html_report(path: Path, folder: Path, run_uid: str) -> Path | None:
    """The notebook as saved, as HTML (one file per run), when nbconvert is installed."""
    try:
        from nbconvert import HTMLExporter
    except ImportError:
        return None
    body, _ = HTMLExporter().from_filename(str(path))
    target = folder / f"{path.stem}-{run_uid}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    return target
