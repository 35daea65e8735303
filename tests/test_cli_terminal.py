"""The command line as a user sees it in a terminal (issue 25): --version, plain help,
tables sized to the terminal, the effective spec in the run folder, options that do not
apply refused, `multilevel show` and ml.load_run, no sampler logs without progress.

Terminal behaviour is checked through a pseudo-terminal of a known size."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pty_run import run_in_terminal, widest

import multilevel as ml
from multilevel.cli import main
from multilevel.errors import ConvergenceWarning, SpecError
from multilevel.spec import load_spec, parse_spec, spec_table, to_toml, with_sampling

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


# ------------------------------------------------------------------ version and help
def test_version_prints_the_package_version():
    code, out = run_in_terminal(["--version"])
    assert code == 0
    assert out.strip() == f"multilevel {ml.__version__}"


def test_the_package_version_is_the_installed_distributions():
    """``ml.__version__`` (the CLI's ``--version``, run folders' markers) is the version
    pip installed from pyproject.toml."""
    from importlib.metadata import version

    assert ml.__version__ == version("multilevel")


@pytest.mark.parametrize("args", [["--help"], ["fit", "--help"], ["show", "--help"]])
def test_help_is_plain_text_without_rest_markup(args):
    code, out = run_in_terminal(args, columns=80)
    assert code == 0
    assert "usage: multilevel" in out
    assert "``" not in out and "::" not in out and ":func:" not in out
    assert widest(out) <= 80


def test_top_level_help_names_every_command_and_the_version_option():
    code, out = run_in_terminal(["--help"], columns=80)
    assert code == 0
    for word in ("fit", "show", "compare", "compare-priors", "datasets", "--version"):
        assert word in out


# ------------------------------------------------------------------ terminal width
@pytest.mark.parametrize("columns", [60, 80, 120])
def test_datasets_table_fits_the_terminal(columns):
    code, out = run_in_terminal(["datasets"], columns=columns)
    assert code == 0
    assert widest(out) <= columns
    for name in ml.datasets.names():
        assert name in out   # every dataset still listed


def test_reml_fit_prints_a_table_sized_to_the_terminal_not_the_markdown_report(tmp_path):
    code, out = run_in_terminal(["fit", str(MODELS / "sleepstudy-reml.toml"), "--out",
                                 str(tmp_path / "run")], columns=64)
    assert code == 0, out
    assert widest(out) <= 64
    assert "## " not in out and "\\|" not in out and "|---" not in out   # no markdown
    assert "(Intercept)" in out and "Days" in out and "Variance components" in out
    # the full report is in the files
    assert "## Parameters" in (tmp_path / "run" / "report.md").read_text()


# ------------------------------------------------------------------ the effective spec
def test_sampling_options_on_a_reml_spec_are_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["fit", str(MODELS / "sleepstudy-reml.toml"), "--out", str(out), "--draws", "50"]) == 1
    err = capsys.readouterr().err
    assert "--draws" in err and "method = 'reml'" in err and "only to method = 'bayes'" in err
    assert not out.exists()   # refused before fitting


def test_sampling_options_on_compare_of_reml_specs_are_refused(tmp_path, capsys):
    spec2 = tmp_path / "intercept.toml"
    spec2.write_text('name = "intercept"\ndata = "sleepstudy"\nformula = "Reaction ~ Days + (1 | Subject)"\n'
                     'method = "ml"\n')
    code = main(["compare", str(MODELS / "sleepstudy-reml.toml"), str(spec2), "--seed", "3",
                 "--out", str(tmp_path / "cmp")])
    assert code == 1
    assert "--seed" in capsys.readouterr().err
    assert not (tmp_path / "cmp").exists()


def test_with_sampling_applies_and_checks_overrides():
    spec = parse_spec({"data": "sleepstudy", "formula": "Reaction ~ Days", "sampling": {"draws": 1000}})
    assert with_sampling(spec, {"draws": 200, "seed": 4, "tune": None}).sampling == {"draws": 200, "seed": 4}
    assert with_sampling(spec, {"progress": False}).sampling == {"draws": 1000}
    with pytest.raises(SpecError, match="--chains must be >= 1"):
        with_sampling(spec, {"chains": 0})
    reml = parse_spec({"data": "sleepstudy", "formula": "Reaction ~ Days", "method": "ml"})
    assert with_sampling(reml, {"draws": None}) is reml
    with pytest.raises(SpecError, match="--draws, --no-progress apply only"):
        with_sampling(reml, {"draws": 10, "progress": False})


@pytest.mark.parametrize("path", sorted(MODELS.glob("*.toml")), ids=lambda p: p.name)
def test_written_spec_reads_back_to_the_same_spec(path, tmp_path):
    spec = load_spec(path)
    if spec.method == "bayes":
        spec = with_sampling(spec, {"draws": 123, "seed": 9})
    copy = tmp_path / "spec.toml"
    copy.write_text(to_toml(spec_table(spec)))
    again = load_spec(copy)
    for key in ("name", "formula", "family", "method", "na", "weights", "link", "priors", "sampling",
                "report", "description"):
        assert getattr(again, key) == getattr(spec, key), key
    assert again.data_path() == spec.data_path()   # a data file by its absolute path


def test_toml_writer_escapes_strings_and_quotes_keys():
    table = {"name": "m", "description": 'quote " backslash \\ tab \t del \x7f é',
             "priors": {"terms": {"x.1": {"dist": "Normal", "mu": 0.0, "sigma": 2.5}},
                        "list": [1, 2.5, True, "a"]}}
    assert tomllib.loads(to_toml(table)) == table


# ------------------------------------------------------------------ show and load_run
def test_show_and_load_run_of_a_reml_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["fit", str(MODELS / "sleepstudy-reml.toml"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    fit = ml.load_run(out)
    direct = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    np.testing.assert_allclose(fit.fixef.values, direct.fixef.values, rtol=1e-10)
    assert fit.reml_criterion == pytest.approx(direct.reml_criterion, rel=1e-12)
    assert main(["show", str(out)]) == 0
    assert capsys.readouterr().out == printed


def test_load_run_errors_name_the_folder(tmp_path, capsys):
    with pytest.raises(SpecError, match="No run folder"):
        ml.load_run(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError, match="has no spec.toml"):
        ml.load_run(tmp_path / "empty")
    assert main(["show", str(tmp_path / "empty")]) == 1
    assert "has no spec.toml" in capsys.readouterr().err
    (tmp_path / "bayes").mkdir()
    (tmp_path / "bayes" / "spec.toml").write_text((MODELS / "sleepstudy.toml").read_text())
    with pytest.raises(SpecError, match="no posterior.nc"):
        ml.load_run(tmp_path / "bayes")


# ------------------------------------------------------------------ Bayesian runs
@pytest.fixture(scope="session")
def bayes_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-bayes") / "run"
    code, out = run_in_terminal(["fit", str(MODELS / "sleepstudy.toml"), "--out", str(folder),
                                 "--draws", "150", "--tune", "150", "--chains", "2", "--seed", "11",
                                 "--no-progress"], columns=70, timeout=600)
    assert code == 0, out
    return folder, out


@pytest.mark.slow
def test_bayes_run_folder_records_the_overrides(bayes_run):
    folder, _ = bayes_run
    written = tomllib.loads((folder / "spec.toml").read_text())
    assert written["sampling"] == {"draws": 150, "tune": 150, "chains": 2, "seed": 11}
    assert "--draws 150" in (folder / "spec.toml").read_text()   # the header says what changed


@pytest.mark.slow
def test_bayes_fit_output_fits_the_terminal_without_sampler_logs(bayes_run):
    _, out = bayes_run
    assert widest(out) <= 70
    assert "NUTS[" not in out and "## " not in out and "\\|" not in out
    assert "sd__(Intercept)|Subject" in out


@pytest.mark.slow
def test_load_run_gives_the_stored_posterior_back(bayes_run):
    folder, _ = bayes_run
    fit = ml.load_run(folder)
    assert type(fit).__name__ == "BayesFit"
    assert (fit.settings.chains, fit.settings.draws, fit.settings.seed) == (2, 150, 11)
    stored = pd.read_csv(folder / "summary.csv", index_col=0)
    with warnings.catch_warnings():   # 2 x 150 draws: the convergence report says so
        warnings.simplefilter("ignore", ConvergenceWarning)
        again = fit.summary()
    np.testing.assert_allclose(again.loc[stored.index, "estimate"], stored["estimate"], rtol=1e-12)
    np.testing.assert_allclose(again.loc[stored.index, "lower"], stored["lower"], rtol=1e-12)
    assert fit.ranef["Subject"].shape == (18, 2)
    assert fit.predict().shape[0] == 180


@pytest.mark.slow
def test_show_reprints_the_summary_of_a_bayes_run(bayes_run):
    folder, fitted = bayes_run
    code, out = run_in_terminal(["show", str(folder)], columns=70)
    assert code == 0, out
    table = fitted[fitted.index("Parameters:"):fitted.index("Convergence")]
    assert table in out
    assert widest(out) <= 70


@pytest.mark.slow
def test_no_sampler_log_lines_when_progress_is_off(capfd, caplog):
    import pymc  # noqa: F401 (its loggers and handler exist)

    levels = {name: logging.getLogger(name).level for name in ("pymc", "pymc.sampling.mcmc")}
    with caplog.at_level(logging.INFO):
        ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", draws=100, tune=100, chains=1,
               seed=3, progress=False, check=False)
    assert not [r for r in caplog.records if r.name.startswith("pymc") and r.levelno < logging.WARNING]
    captured = capfd.readouterr()
    assert "NUTS[" not in captured.out + captured.err
    # the loggers' levels are restored after the call
    assert {name: logging.getLogger(name).level for name in levels} == levels


@pytest.mark.slow
def test_no_progress_bar_or_sampler_log_into_a_pipe(tmp_path):
    # the spec asks for the progress bar; stderr is a pipe, so none is drawn
    spec = tmp_path / "m.toml"
    spec.write_text('name = "m"\ndata = "sleepstudy"\nformula = "Reaction ~ Days + (1 | Subject)"\n'
                    '[sampling]\ndraws = 100\ntune = 100\nchains = 1\nseed = 2\nprogress = true\n'
                    '[report]\nplots = false\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-m", "multilevel.cli", "fit", str(spec), "--out",
                           str(tmp_path / "run")], check=False, capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert "\x1b[" not in done.stdout + done.stderr and "\r" not in done.stderr
    assert "NUTS[" not in done.stderr and "Sampling" not in done.stderr
    assert "Progress" not in done.stderr and "Draws" not in done.stderr


def test_compare_prints_a_table_sized_to_the_terminal(tmp_path):
    spec = tmp_path / "intercept.toml"
    spec.write_text('name = "intercept"\ndata = "sleepstudy"\nformula = "Reaction ~ Days + (1 | Subject)"\n'
                    'method = "reml"\n')
    code, out = run_in_terminal(["compare", str(spec), str(MODELS / "sleepstudy-reml.toml"), "--out",
                                 str(tmp_path / "cmp")], columns=72)
    assert code == 0, out
    assert widest(out) <= 72
    assert out.startswith("Model comparison: 2 models") and "|---" not in out
    assert "1763.939" in out and "refitted with ML" in out
    assert (tmp_path / "cmp" / "table.md").read_text().startswith("## Model comparison")


@pytest.mark.parametrize("options, says", [
    (["--k-folds", "5"], "--k-folds: set(s) the folds of --high-k kfold, not of --high-k warn"),
    (["--group-by", "Subject", "--high-k", "reloo"], "--group-by: set(s) the folds of --high-k kfold"),
    (["--refit-draws", "200"], "--refit-draws: --high-k warn runs no refits"),
    (["--refit-chains", "2", "--high-k", "moment_match"], "--high-k moment_match runs no refits"),
])
def test_compare_options_the_chosen_fix_would_not_use_are_refused_before_fitting(
        options, says, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ml, "fit", lambda *a, **k: pytest.fail("fitted before refusing"))
    code = main(["compare", str(MODELS / "sleepstudy-intercept.toml"), str(MODELS / "sleepstudy.toml"),
                 "--out", str(tmp_path / "cmp"), *options])
    assert code == 1
    assert says in capsys.readouterr().err
    assert not (tmp_path / "cmp").exists()
