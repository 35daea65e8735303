"""The comparison of fresh and committed notebook outputs (tests/notebook_outputs.py), and
what the committed outputs must never show: PyTensor's BLAS notice, warnings attributed to
the package's files, PyMC's sampler logs, the same warning twice. Fast: no kernel runs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from notebook_outputs import (
    compare_cells,
    compare_notebooks,
    numbers_agree,
    pieces,
    tokens,
)

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def cell(outputs, sampled=False):
    return nbformat.v4.new_code_cell("x", outputs=outputs, metadata={"tags": ["sampled"]} if sampled else {})


def stream(text, name="stdout"):
    return nbformat.v4.new_output("stream", name=name, text=text)


def result(plain, html=None):
    data = {"text/plain": plain} | ({"text/html": html} if html else {})
    return nbformat.v4.new_output("execute_result", data=data, execution_count=1)


REML = "           estimate  std_error\n(Intercept)  251.405105   6.824597\nDays          10.467286   1.545790"


# ------------------------------------------------------------------ the comparison
def test_deterministic_numbers_agree_to_rounding_not_more():
    assert numbers_agree("251.405105", "251.405105")
    assert numbers_agree("0.395", "0.396")            # a rounding flip in the last printed digit
    assert numbers_agree("7.9e-14", "1.2e-13")        # floating-point noise
    assert not numbers_agree("251.405", "251.412")
    assert not numbers_agree("10.47", "10.49")


def test_a_changed_reml_number_is_a_difference_but_alignment_is_not():
    old = cell([result(REML)])
    assert compare_cells(cell([result(REML.replace("   6.824597", " 6.824597"))]), old) == []
    diff = compare_cells(cell([result(REML.replace("10.467286", "10.567286"))]), old)
    assert diff and "10.567286" in diff[0]


def test_sampled_cells_are_compared_by_structure():
    old = cell([result("            ridge lasso horseshoe\nconverged    True  True     False\n"
                       "divergences     0     0         2")], sampled=True)
    new = cell([result("            ridge lasso horseshoe\nconverged    True  True      True\n"
                       "divergences     0     0         0")], sampled=True)
    assert compare_cells(new, old) == []
    renamed = cell([result("            ridge lasso hs\nconverged    True  True      True\n"
                           "divergences     0     0         0")], sampled=True)
    assert "'ridge lasso hs converged'" in compare_cells(renamed, old)[0]
    assert compare_cells(cell(new.outputs), cell(old.outputs))   # untagged: numbers compared


BLAS = ("/venv/lib/python3.12/site-packages/pytensor/link/c/cmodule.py:2940: UserWarning: PyTensor "
        "could not link to a BLAS installation.\n  warnings.warn(\n")
CONVERGENCE = ("/tmp/ipykernel_1949/2104472937.py:3: ConvergenceWarning: Convergence problems:\n"
               "  - 2 divergent transitions of 2000: raise target_accept from 0.99\n  fits = {...}\n")


def test_new_stderr_text_is_a_difference_even_in_a_sampled_cell():
    old = cell([stream("Model comparison\n"), result("table")], sampled=True)
    new = cell([stream("Model comparison\n"), stream(BLAS, "stderr"), result("table")], sampled=True)
    assert "stderr" in compare_cells(new, old)[0]
    logs = cell([stream("Sampling: [Days, Intercept]\n", "stderr")], sampled=True)
    quiet = cell([stream("", "stderr")], sampled=True)
    assert compare_cells(logs, quiet)


def test_a_convergence_warning_in_a_sampled_cell_may_come_and_go_but_points_at_the_cell():
    old = cell([stream(CONVERGENCE, "stderr"), result("table")], sampled=True)
    none = cell([stream("", "stderr"), result("table")], sampled=True)
    assert compare_cells(none, old) == []
    assert compare_cells(cell([stream(CONVERGENCE.replace("1949/2104472937", "77/1"), "stderr"),
                               result("table")], sampled=True), old) == []
    into_package = CONVERGENCE.replace("/tmp/ipykernel_1949/2104472937.py", "/src/multilevel/bayes/fit.py")
    problems = compare_cells(cell([stream(into_package, "stderr"), result("table")], sampled=True), old)
    assert problems == ["a ConvergenceWarning attributed to /src/multilevel/bayes/fit.py, not to the cell"]


def test_html_is_compared_where_there_is_html():
    old = cell([result("plain", "<td>251.4</td>")])
    assert compare_cells(cell([result("other plain", "<td>251.4</td>")]), old) == []
    assert compare_cells(cell([result("plain", "<td>251.6</td>")]), old)
    assert tokens("x 1e-3 noise0 1260x620 -4.5", sampled=False) == [
        ("word", "x"), ("number", "1e-3"), ("word", "noise0 1260x620"), ("number", "-4.5")]


# ------------------------------------------------------------------ the committed outputs
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_outputs_are_clean(path):
    notebook = nbformat.read(path, as_version=4)
    assert compare_notebooks(notebook, nbformat.read(path, as_version=4)) == []
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), "committed without running"
    for c in code:
        for kind, name, text in pieces(c):
            where = f"{path.name}, cell {c.source.splitlines()[0][:50]!r}"
            assert "could not link to a BLAS" not in text, where
            assert "Sampling: [" not in text and "NUTS[" not in text, where   # sampler logs
            assert "site-packages" not in text and "/src/multilevel/" not in text, where
            if name == "stderr":
                headers = [line for line in text.splitlines() if "Warning: " in line]
                assert len(headers) == len(set(h.split(": ", 1)[1] for h in headers)), where
    assert any("sampled" in c.metadata.get("tags", []) for c in code)
