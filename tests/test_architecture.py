"""The package's layers (README "Architecture", ``[tool.importlinter]`` in pyproject.toml):
the import-linter contract holds, an upward import added on purpose breaks it, no import
cycle remains among the modules, and ``import multilevel`` / a REML fit stay light."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
HEAVY = ("pymc", "bambi", "arviz", "matplotlib", "pytensor")
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"

def _run(code: str, src: Path = SRC, cwd: Path = ROOT, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(src), "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def _lint(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the pyproject.toml in ``root``, reading the package in ``root/src``."""
    return _run(LINT, root / "src", root, "--no-cache", "--no-logo", str(root / "pyproject.toml"))


def test_the_layers_contract_is_kept():
    result = _lint(ROOT)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "Layers: entry > present (report > plots) > verbs > engines > ground KEPT" in out
    assert "Only the entry layer imports the public namespace (multilevel/__init__.py) KEPT" in out
    assert "2 kept, 0 broken" in out


@pytest.mark.parametrize("module, code, broken", [
    # a result object that writes its own report: engines (2) -> present (4)
    ("freq/result.py", "from multilevel import report", "multilevel.freq.result -> multilevel.report (l."),
    # a verb that plots: verbs (3) -> present (4)
    ("diagnostics/icc.py", "from multilevel.plots import draw", "multilevel.diagnostics.icc -> multilevel.plots.draw (l."),
    # a verb through the public namespace: `import multilevel as ml` inside a function
    ("compare/table.py", "import multilevel as ml", "multilevel.compare.table -> multilevel (l."),
])
def test_an_upward_import_breaks_the_contract(tmp_path, module, code, broken):
    shutil.copytree(SRC / "multilevel", tmp_path / "src" / "multilevel",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "multilevel" / module
    with target.open("a") as f:      # deferred, as the old upward imports were
        f.write(f"\n\ndef _upward_on_purpose():\n    {code}\n")
    result = _lint(tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "BROKEN" in out and broken in out, out


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components of the import graph."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component))
    return out


def test_the_cycle_finder_finds_a_cycle():
    components = _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert sorted(components) == [["a", "b", "c"], ["d"]]


def test_no_import_cycle_among_the_modules():
    """grimp's graph (what import-linter reads: function-local imports and packages'
    ``__init__`` re-exports included) has no strongly connected component of two or more."""
    code = ("import grimp, json; g = grimp.build_graph('multilevel', cache_dir=None); "
            "print(json.dumps({m: sorted(g.find_modules_directly_imported_by(m)) for m in g.modules}))")
    result = _run(code)
    assert result.returncode == 0, result.stderr
    edges = {m: set(i) for m, i in json.loads(result.stdout).items()}
    assert len(edges) > 90 and "multilevel.freq.result" in edges
    cycles = [c for c in _strongly_connected(edges) if len(c) > 1]
    assert cycles == []


def _loaded_after(code: str) -> dict:
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    result = _run(probe)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_multilevel_is_light():
    assert _loaded_after("import multilevel") == []


def test_a_reml_fit_and_its_methods_are_light():
    code = ("import multilevel as ml\n"
            "m = ml.fit('Reaction ~ Days + (Days | Subject)', 'sleepstudy', method='reml')\n"
            "assert round(m.reml_criterion, 3) == 1743.628\n"
            "assert callable(m.report) and callable(m.refit_ml)\n"
            "m.summary(); m.predict(); m.varcorr; m.ranef; m.refit_ml()")
    assert _loaded_after(code) == []


def test_a_reml_fit_does_not_import_scipy_stats():
    """scipy.stats costs ~0.3 s of a cold REML fit (bench/bench_import.py); the fit itself
    needs none of it (summaries with df and p import it when asked)."""
    result = _run("import multilevel as ml, sys\n"
                  "ml.fit('Reaction ~ Days + (Days | Subject)', 'sleepstudy', method='reml')\n"
                  "print('scipy.stats' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_fit_methods_are_attached_however_a_fit_is_made():
    """Through the engine directly (no ``ml.fit``): the methods that call verbs and the
    report are there, defined in the entry layer (multilevel/api.py)."""
    code = (
        "from multilevel.freq import fit_freq\n"
        "from multilevel.freq.ols import OLSFit\n"
        "from multilevel.datasets import load\n"
        "m = fit_freq('Reaction ~ Days + (1 | Subject)', load('sleepstudy'))\n"
        "assert m.report.__func__.__module__ == 'multilevel.api', m.report\n"
        "assert OLSFit.report.__module__ == 'multilevel.api'\n"
        "from multilevel.bayes.result import BayesFit\n"
        "for name in ('predict', 'prior_predictive', 'sensitivity', 'report'):\n"
        "    assert getattr(BayesFit, name).__module__ == 'multilevel.api', name\n"
        "print('ok')"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
