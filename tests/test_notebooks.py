"""Every notebook in notebooks/ runs top to bottom on a fresh kernel without an error,
and its text outputs are the committed ones (tests/notebook_outputs.py: deterministic
numbers to 1e-6, cells tagged ``sampled`` by structure), so the notebooks on GitHub and
in the documentation site show what the code gives today.

The kernel is this interpreter: a ``python3`` kernelspec pointing at ``sys.executable``
is put first on ``JUPYTER_PATH``, so a system-wide Jupyter cannot substitute another
Python, and a last cell checks it. Each notebook runs in its own temporary folder (the
files it writes land there); warnings in a notebook are shown, as a user would see
them, rather than raised.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from notebook_outputs import REFRESH, compare_notebooks

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
KERNEL = "python3"
CELL_TIMEOUT = 300  # seconds per cell; a whole notebook takes about a minute

pytestmark = pytest.mark.slow


def test_the_notebooks_are_there():
    names = [p.name for p in NOTEBOOKS]
    assert names == ["01-sleepstudy.ipynb", "02-regularized-regression.ipynb",
                     "03-comparing-priors.ipynb", "04-families.ipynb",
                     "05-effects-and-evidence.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    committed = nbformat.read(path, as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == KERNEL
    _kernelspec_for_this_python(tmp_path / "jupyter", monkeypatch)
    # the notebook's own inline backend, as in Jupyter (CI exports MPLBACKEND=Agg)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    work = tmp_path / "work"
    work.mkdir()
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name=KERNEL,
                            resources={"metadata": {"path": str(work)}})
    client.execute()   # raises CellExecutionError, naming the cell, on the first error
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code)
    assert not [out for cell in code for out in cell.outputs if out.output_type == "error"]
    assert code[-1].outputs[0]["text"].strip() == sys.executable
    # the same execution, compared with what is committed (no second run)
    notebook.cells.pop()
    differences = compare_notebooks(notebook, committed)
    assert not differences, (f"{path.name}: its committed outputs are not what it gives now; "
                             + REFRESH.replace("NAME", path.stem) + ":\n" + "\n".join(differences))


def _kernelspec_for_this_python(root: Path, monkeypatch) -> None:
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (multilevel tests)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join([str(root), os.environ.get("JUPYTER_PATH", "")]))
