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
    """Jupyter Server sets JPY_SESSION_NAME to the notebook's path; VS Code sets `__vsc_ipynb_file__`."""
    candidate = given or os.environ.get("JPY_SESSION_NAME") or shell.user_ns.get("__vsc_ipynb_file__")
    if not candidate or not str(candidate).endswith(".ipynb"):
        raise FlowledgerError("cannot tell which notebook is running: call fl.track(path='analysis.ipynb')")
    path = Path(candidate).expanduser().absolute()
    if not path.is_file():
        raise FlowledgerError(f"notebook {path} does not exist: save it, or pass fl.track(path=...)")
    return path


def code_cells(path: Path) -> list[str]:
    try:
        cells = json.loads(path.read_text())["cells"]
    except (OSError, ValueError, KeyError) as error:
        raise FlowledgerError(f"notebook {path} cannot be read: {error}") from None
    sources = ["".join(c.get("source", "")) if isinstance(c.get("source"), list) else c.get("source", "")
               for c in cells if c.get("cell_type") == "code"]
    return [s.strip() for s in sources if s.strip()]


def _is_finish_cell(source: str) -> bool:
    return ".finish(" in source or source.startswith("finish(")


def is_consecutive(path: Path, shell=None) -> bool | None:
    """Did the code cells run once each, top to bottom (1, 2, 3, ...)? The `finish()` cell is skipped and
    trailing cells that never ran are forgiven. In a live kernel its input history is the truth; otherwise
    the execution counts saved in the file (None when there are none)."""
    cells = [c for c in code_cells(path) if not _is_finish_cell(c)]
    if shell is not None:
        executed = [s.strip() for s in shell.user_ns.get("In", [])[1:] if s.strip()]
        executed = [s for s in executed if not _is_finish_cell(s)]
        return executed == cells[:len(executed)]
    counts = [c.get("execution_count") for c in json.loads(path.read_text())["cells"]
              if c.get("cell_type") == "code" and "".join(c.get("source", "")).strip()
              and not _is_finish_cell("".join(c.get("source", "")))]
    while counts and counts[-1] is None:
        counts.pop()
    if not counts:
        return None
    return counts == list(range(1, len(counts) + 1))


def html_report(path: Path, folder: Path) -> Path | None:
    """The notebook as HTML, when nbconvert is installed."""
    try:
        from nbconvert import HTMLExporter
    except ImportError:
        return None
    body, _ = HTMLExporter().from_filename(str(path))
    target = folder / "reports" / f"{path.stem}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body)
    return target
