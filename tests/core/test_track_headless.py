"""Notebooks run headless: real `jupyter nbconvert --execute`, nbclient, and papermill's conventions.

No JPY_SESSION_NAME here: the kernel knows only its working directory (nbconvert and nbclient start it
in the notebook's folder), so `fl.track()` looks there for the one notebook holding the cells that ran.
The report shows the cells as the kernel ran them, with their outputs, and says when the saved file is
older than that.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import flowledger as fl
import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    "import flowledger as fl\nfl.track()",
    "import pandas as pd\ncounts = pd.read_csv('counts.csv')\nprint('total', counts.reads.sum())",
    "counts.assign(share=counts.reads / counts.reads.sum()).to_csv('shares.csv', index=False)\nlen(counts)",
    "fl.finish()",
]


@pytest.fixture(autouse=True)
def headless(tmp_path_factory, monkeypatch):
    """Kernel `python3` is this interpreter; no Jupyter Server tells the kernel its notebook."""
    folder = tmp_path_factory.mktemp("jupyter")
    spec = folder / "kernels" / "python3" / "kernel.json"
    spec.parent.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(folder))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(folder / "runtime"))
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)


def write_notebook(path: Path, cells=CELLS, *, before=(), metadata=None) -> nbformat.NotebookNode:
    notebook = new_notebook(cells=[*before, new_markdown_cell("# Counts"), *map(new_code_cell, cells)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata.update(metadata or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    (path.parent / "counts.csv").write_text("sample,reads\ns1,10\ns2,12\n")
    return notebook


def execute(notebook, cwd: Path, steps=None) -> NotebookClient:
    """Run the code cells (or `steps`: indices, or callables given the client) in a kernel started in `cwd`."""
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    client = NotebookClient(notebook, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(cwd)}})
    with client.setup_kernel():
        for step in range(len(code)) if steps is None else steps:
            if callable(step):
                step(client)
            else:
                client.execute_cell(code[step], notebook.cells.index(code[step]))
    return client


def report_of(run: fl.Run) -> str:
    return Path(run.report.path).read_text(encoding="utf-8")


def test_nbconvert_execute_finds_the_notebook_and_reports_what_the_kernel_ran(tmp_path):
    path = tmp_path / "project" / "analysis.ipynb"
    write_notebook(path)
    write_notebook(path.parent / "analysis-copy.ipynb")  # holds the same cells: the command line tells them apart
    jupyter = Path(sys.executable).parent / "jupyter"
    done = subprocess.run(
        [str(jupyter), "nbconvert", "--execute", "--to", "notebook", "--output", "executed", "project/analysis.ipynb"],
        cwd=tmp_path,  # not the notebook's folder: nbconvert starts the kernel there all the same
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    run = fl.Run.filter().one()
    assert run.status == "completed" and run.is_consecutive is True
    assert (run.transform.reference, run.transform.type) == (str(path), "notebook")
    assert run.json["cwd"] == str(path.parent)
    assert {a.path for a in run.inputs} == {str(path.parent / "counts.csv")}
    assert {a.path for a in run.outputs} == {str(path.parent / "shares.csv"), run.report.path}  # and its report
    html = report_of(run)
    assert "<title>analysis</title>" in html and ">Counts<" in html
    assert "total 22" in html  # printed by cell 2: the saved file has no outputs
    assert re.search(r"In\W+\[3\]:", html) and "Out[3]:" in html  # the kernel's execution counts
    assert "The saved file analysis.ipynb" in html and "is older: it was saved before they ran" in html
    assert not nbformat.read(path, as_version=4).cells[1].get("outputs")  # the saved file stays as it was


def test_the_one_notebook_in_the_folder_holding_what_ran_is_the_notebook(tmp_path):
    write_notebook(tmp_path / "other.ipynb", ["print('another analysis')"])
    write_notebook(tmp_path / "draft.ipynb", ["import flowledger as fl"])
    execute(write_notebook(tmp_path / "analysis.ipynb"), tmp_path, [0, 1, 2, 3])
    assert fl.Run.filter().one().transform.reference == str(tmp_path / "analysis.ipynb")


def test_two_notebooks_holding_what_ran_is_an_error_naming_track_path(tmp_path):
    notebook = write_notebook(tmp_path / "analysis.ipynb")
    write_notebook(tmp_path / "analysis-copy.ipynb")
    with pytest.raises(Exception, match=r"analysis-copy\.ipynb, analysis\.ipynb.*fl\.track\(path="):
        execute(notebook, tmp_path, [0])
    assert fl.Run.filter().count() == 0


def test_papermill_run_is_its_input_notebook_with_the_injected_parameters(tmp_path):
    """papermill runs a copy with a `# Parameters` cell injected after the `parameters` cell, saves it
    first (its metadata naming the input), in papermill's own working directory."""
    source = tmp_path / "notebooks" / "analysis.ipynb"
    cells = ["threshold = 5\nlabel = 'default'", *CELLS]
    write_notebook(source, cells)
    (tmp_path / "counts.csv").write_text("sample,reads\ns1,10\ns2,12\n")
    executed = nbformat.read(source, as_version=4)
    executed.cells[1].metadata["tags"] = ["parameters"]
    injected = '# Parameters\nthreshold = 8\nlabel = "run 2"\n'
    executed.cells.insert(2, new_code_cell(injected, metadata={"tags": ["injected-parameters"]}))
    executed.metadata["papermill"] = {"input_path": "notebooks/analysis.ipynb", "output_path": "out.ipynb"}
    nbformat.write(executed, tmp_path / "out.ipynb")
    execute(executed, tmp_path)
    run = fl.Run.filter().one()
    assert run.transform.reference == str(source)
    assert run.transform.source_code == "\n\n".join(cells)  # the input's code: parameters do not make a version
    assert run.json["params"] == {"threshold": 8, "label": "run 2"}
    assert run.is_consecutive is True
    assert {a.path for a in run.inputs} == {str(tmp_path / "counts.csv")}


def test_report_is_the_saved_file_when_it_shows_what_ran(tmp_path, monkeypatch):
    """Interactive: the user saved after running the cells, outputs and all; that file is the report."""
    path = tmp_path / "analysis.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    notebook = write_notebook(path)
    notebook.cells.append(new_markdown_cell("Saved with its outputs"))

    def save(client):
        nbformat.write(client.nb, path)

    execute(notebook, tmp_path, [0, 1, 2, save, 3])
    run = fl.Run.filter().one()
    html = report_of(run)
    assert "total 22" in html and "Saved with its outputs" in html
    assert "is older" not in html


def test_report_shows_cells_edited_after_the_file_was_saved(tmp_path, monkeypatch):
    path = tmp_path / "analysis.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    notebook = write_notebook(path)

    def edit_without_saving(client):
        code = [cell for cell in client.nb.cells if cell.cell_type == "code"]
        code[1].source = "counts = pd.read_csv('counts.csv')\nprint('edited total', counts.reads.sum() * 2)"

    execute(notebook, tmp_path, [0, 1, edit_without_saving, 1, 3])
    run = fl.Run.filter().one()
    assert run.is_consecutive is False
    html = report_of(run)
    assert "total 22" in html and "edited total 44" in html  # both runs of cell 2, as the kernel ran them
    assert "1 of the cells that ran are not in it" in html
