"""`fl.track()` / `fl.finish()` in a real Jupyter kernel (ipykernel), driven by nbclient.

The kernel inherits this process's environment, as it does from Jupyter Server: FLOWLEDGER_DB (the
test's ledger) and JPY_SESSION_NAME (the notebook's path). Cells run in the order a test chooses.
"""

import hashlib
import json
import sys

import flowledger as fl
import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    "import flowledger as fl\nfl.track()",
    "%time counts = {'s1': 10, 's2': 12}",  # a magic: the kernel's parsed history differs from the cell
    "total = sum([10, 12])\nprint(total)",
    "fl.finish()",
]


@pytest.fixture(autouse=True)
def this_python_kernel(tmp_path_factory, monkeypatch):
    """Kernel `python3` is this interpreter, whatever kernels the machine has (JUPYTER_PATH is searched first)."""
    folder = tmp_path_factory.mktemp("jupyter")
    spec = folder / "kernels" / "python3" / "kernel.json"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(folder))


def write_notebook(path, cells=CELLS):
    notebook = new_notebook(cells=[new_markdown_cell("# Counts"), *map(new_code_cell, cells)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return notebook


def execute(notebook, order, cwd):
    """Run code cells (indices into the code cells) in `order`, in one kernel started in `cwd`; a callable
    in `order` is called in between (a user editing the notebook)."""
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    client = NotebookClient(notebook, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(cwd)}})
    with client.setup_kernel():
        for step in order:
            if callable(step):
                step()
            else:
                client.execute_cell(code[step], notebook.cells.index(code[step]))


@pytest.fixture
def analysis(tmp_path, monkeypatch):
    path = tmp_path / "analysis.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    return path


def test_notebook_run_top_to_bottom_is_consecutive_with_an_html_report(analysis):
    execute(write_notebook(analysis), [0, 1, 2, 3], analysis.parent)
    run = fl.Run.filter().one()
    assert run.status == "completed" and run.finished_at
    assert (run.transform.name, run.transform.type) == ("analysis.ipynb", "notebook")
    assert run.transform.source_code == "\n\n".join(CELLS)
    assert run.transform.reference == str(analysis)
    assert run.is_consecutive is True
    report = run.report
    html = open(report.path, encoding="utf-8").read()
    assert report.suffix == ".html" and html.lstrip().lower().startswith("<!doctype html>")
    assert "<title>analysis</title>" in html and ">Counts<" in html  # the notebook, with its markdown, rendered
    assert report.hash == hashlib.sha256(html.encode()).hexdigest() and report.run == run


@pytest.mark.parametrize(
    "order", [[0, 2, 1, 3], [0, 1, 1, 2, 3], [0, 2, 3]], ids=["out-of-order", "cell-run-twice", "cell-skipped"]
)
def test_notebook_not_run_top_to_bottom_is_not_consecutive(analysis, order):
    execute(write_notebook(analysis), order, analysis.parent)
    run = fl.Run.filter().one()
    assert run.status == "completed" and run.is_consecutive is False


def test_rerun_of_an_edited_notebook_keeps_each_runs_report(analysis):
    notebook = write_notebook(analysis)

    def edit_and_save():
        nbformat.write(
            nbformat.v4.new_notebook(
                cells=[new_markdown_cell("# Edited"), *notebook.cells[1:]], metadata=notebook.metadata
            ),
            analysis,
        )

    execute(notebook, [0, 1, 2, 3, edit_and_save, 0, 3], analysis.parent)  # a second track() ... finish()
    first, second = fl.Run.filter().order_by("id").all()
    assert first.transform == second.transform  # markdown is not code: the same version
    assert first.is_consecutive is True and second.is_consecutive is False  # cells ran before its track()
    reports = [open(run.report.path, encoding="utf-8").read() for run in (first, second)]
    assert ">Counts<" in reports[0] and ">Edited<" in reports[1]
    for run, html in zip((first, second), reports):
        assert hashlib.sha256(html.encode()).hexdigest() == run.report.hash


def test_notebook_path_relative_to_the_jupyter_server_root(tmp_path, monkeypatch):
    """Without a session name, Jupyter Server gives the path from its root; the kernel runs in the notebook's folder."""
    path = tmp_path / "project" / "analysis.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", "project/analysis.ipynb")
    execute(write_notebook(path), [0, 1, 2, 3], path.parent)
    assert fl.Run.filter().one().transform.reference == str(path)


def test_vscode_notebook_path(tmp_path, monkeypatch):
    path = tmp_path / "analysis.ipynb"
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    cells = [f"__vsc_ipynb_file__ = {str(path)!r}", *CELLS]  # what VS Code's Jupyter extension defines
    execute(write_notebook(path, cells), range(len(cells)), tmp_path)
    run = fl.Run.filter().one()
    assert run.transform.reference == str(path) and run.is_consecutive is True


def test_unknown_notebook_is_an_error_that_says_what_to_do(tmp_path, monkeypatch):
    """No session name, and no notebook in the kernel's folder (nor named by the runner) holds what ran."""
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    notebook = write_notebook(tmp_path / "elsewhere" / "analysis.ipynb")
    with pytest.raises(Exception, match=r"fl\.track\(path="):
        execute(notebook, [0], tmp_path)
    assert fl.Run.filter().count() == 0
