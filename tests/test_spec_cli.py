"""Model specs are validated data; the CLI writes complete run folders or nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from multilevel.cli import main
from multilevel.errors import FormulaError, SpecError
from multilevel.report import atomic_folder
from multilevel.spec import load_spec, parse_spec

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.mark.parametrize("path", sorted(MODELS.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_specs_validate(path):
    spec = load_spec(path)
    assert spec.name and spec.formula
    assert len(spec.load_data()) > 0


@pytest.mark.parametrize(
    "raw, error, match",
    [
        ({"data": "sleepstudy"}, SpecError, "'formula' is required"),
        ({"data": "sleepstudy", "formula": "y ~ x", "fomula": "y"}, SpecError, "unknown key.*'fomula'"),
        ({"data": "sleepstudy", "formula": "y ~ x", "sampling": {"draws": "many"}}, SpecError,
         "'draws' must be int"),
        ({"data": "sleepstudy", "formula": "y ~ x", "sampling": {"seeds": 1}}, SpecError,
         "Valid keys: chains, draws"),
        ({"data": "sleepstudy", "formula": "y ~ x", "method": "mcmc"}, SpecError, "method 'mcmc'"),
        ({"data": "sleepstudy", "formula": "y ~ x", "method": "reml", "priors": {"preset": "ridge"}},
         SpecError, "only applies to method = 'bayes'"),
        ({"data": "sleepstudy", "formula": "y ~ __import__('os').system('ls')"}, FormulaError, "'__import__' is not allowed"),
        ({"data": "sleepstudy", "formula": "y ~ x", "report": {"x": "x"}}, SpecError,
         r"\[report\] x applies to the group panels of a model with group terms; 'y ~ x' has none"),
        ({"data": "sleepstudy", "formula": "y ~ x", "report": {"x": "z"}}, SpecError,
         r"\[report\] x = 'z' is not a variable of the formula's predictors; use a numeric one of \['x'\]"),
        ({"data": "sleepstudy", "formula": "y ~ x", "report": {"x": 1}}, SpecError, "'x' must be str"),
        ({"data": "sleepstudy", "formula": "y ~ x", "report": {"rope": [0.1]}}, SpecError,
         r"\[report\] rope = \[0.1\] must be \[lo, hi\]"),
        ({"data": "sleepstudy", "formula": "y ~ x", "report": {"rope": [1, -1]}}, SpecError, "lo < hi"),
        ({"data": "sleepstudy", "formula": "y ~ x", "report": {"rope": ["a", "b"]}}, SpecError, "numbers"),
        ({"data": "sleepstudy", "formula": "y ~ x", "report": {"rope": 0.1}}, SpecError, "'rope' must be list"),
        ({"data": "sleepstudy", "formula": "y ~ x", "method": "reml", "report": {"rope": [-1, 1]}}, SpecError,
         "rope applies to method = 'bayes' only"),
    ],
)
def test_bad_specs_are_refused_with_the_key_named(raw, error, match):
    with pytest.raises(error, match=match):
        parse_spec(raw)


def test_spec_data_path_is_relative_to_the_spec(tmp_path):
    pd.DataFrame({"y": [1.0, 2.0, 3.0], "x": [0.0, 1.0, 2.0]}).to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "m.toml").write_text('data = "d.csv"\nformula = "y ~ x"\nmethod = "ml"\n')
    spec = load_spec(tmp_path / "m.toml")
    assert spec.name == "m"
    assert spec.load_data().shape == (3, 2)
    (tmp_path / "bad.toml").write_text('data = "nowhere.csv"\nformula = "y ~ x"\n')
    with pytest.raises(SpecError, match="neither a shipped dataset"):
        load_spec(tmp_path / "bad.toml").load_data()


def test_atomic_folder_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "run"
    with atomic_folder(target) as folder:
        (folder / "a.txt").write_text("first")
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as folder:
            (folder / "a.txt").write_text("half")
            raise RuntimeError("fit failed")
    assert (target / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_atomic_folder_gets_the_permissions_mkdir_gives(tmp_path):
    import os

    (tmp_path / "plain").mkdir()
    with atomic_folder(tmp_path / "run"):
        pass
    mode = (tmp_path / "run").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain").stat().st_mode & 0o777
    assert mode & 0o044 or os.umask(os.umask(0)) & 0o044   # readable by others unless umask says no


def test_cli_datasets_lists_shipped_data(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "sleepstudy" in out and "InstEval" in out


def test_cli_reports_spec_errors_without_traceback(tmp_path, capsys):
    (tmp_path / "m.toml").write_text('data = "sleepstudy"\nformula = "Reaction ~ Days"\nfamliy = "t"\n')
    assert main(["fit", str(tmp_path / "m.toml")]) == 1
    assert "unknown key(s) 'famliy'" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_fit_writes_a_complete_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    status = main(["fit", str(MODELS / "sleepstudy.toml"), "--out", str(out), "--draws", "300",
                   "--tune", "300", "--chains", "2"])
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == [".multilevel-run", "caterpillar.png", "effects.png", "forest.png",
                                                     "groups.png",
                                                     "posterior.nc", "ppc.png", "rank.png",
                                                     "report.html", "report.md", "residuals.png",
                                                     "spec.toml", "summary.csv"]
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    assert "cor__(Intercept).Days|Subject" in summary.index
    printed = capsys.readouterr().out
    # the terminal gets a plain table; the markdown report is in the folder
    assert "Parameters: 95% equal-tailed credible intervals (ETI)" in printed
    assert "sd__(Intercept)|Subject" in printed and "\\|" not in printed and "## " not in printed
    assert "## Parameters (ETI 95%)" in (out / "report.md").read_text()


def test_console_script_keeps_output_exit_status_and_exit_handlers(tmp_path):
    # console_main ends the process with os._exit after main(): piped (buffered) output
    # must still arrive whole, the status must be main()'s, and atexit handlers must run
    import subprocess
    import sys

    marker = tmp_path / "handler-ran"
    code = ("import atexit, pathlib, sys; from multilevel import cli; "
            f"atexit.register(pathlib.Path({str(marker)!r}).touch); "
            "sys.argv = ['multilevel'] + sys.argv[1:]; cli.console_main()")
    ok = subprocess.run([sys.executable, "-c", code, "datasets"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    listed = ok.stdout.splitlines()
    assert len(listed) >= 12 and any(line.strip().startswith("sleepstudy") for line in listed)
    assert listed[-1].strip()   # the last row arrived, not a cut-off buffer
    assert marker.exists()
    marker.unlink()
    bad = subprocess.run([sys.executable, "-c", code, "fit", str(tmp_path / "missing.toml")],
                         capture_output=True, text=True)
    assert bad.returncode == 1
    assert "error:" in bad.stderr and "missing.toml" in bad.stderr
    assert marker.exists()
