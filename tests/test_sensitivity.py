"""Prior sensitivity: a tight, wrong prior is flagged; the weak default is not."""

from __future__ import annotations

import bambi as bmb
import matplotlib
import pytest

import multilevel as ml
from multilevel.sensitivity import compare_priors, plot_prior_predictive

# The assertions concern prior sensitivity of Days and sigma; at this size the intercept's
# R-hat can land just above 1.01 (it is reported in each fit's convergence report).
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::multilevel.errors.ConvergenceWarning")]
matplotlib.use("Agg")
FORMULA = "Reaction ~ Days + (1 | Subject)"
SETTINGS = dict(draws=500, tune=1000, chains=4, seed=7)
TIGHT_WRONG = {"Days": bmb.Prior("Normal", mu=0, sigma=0.5)}   # lme4: Days = 10.5 (SE 0.8)


@pytest.fixture(scope="module")
def comparison(sleepstudy):
    return compare_priors(FORMULA, sleepstudy, {"weak": None, "tight": TIGHT_WRONG}, **SETTINGS)


def test_tight_wrong_prior_flagged_weak_prior_not(comparison):
    weak = comparison.fits["weak"].sensitivity(["Intercept", "Days", "sigma"])
    tight = comparison.fits["tight"].sensitivity(["Intercept", "Days", "sigma"])
    assert (weak["flag"] == "ok").all(), weak
    assert tight.loc["Days", "flag"].startswith("prior-data conflict")


def test_compare_priors_table_and_plot(comparison):
    assert set(comparison.summary.columns.get_level_values(0)) == {"weak", "tight"}
    days = comparison.summary.loc["Days"]
    assert days[("tight", "estimate")] < days[("weak", "estimate")] - 3   # shrunk toward 0
    assert comparison.loo.loc["weak", "elpd_loo"] > comparison.loo.loc["tight", "elpd_loo"]
    fig = comparison.plot(["Days", "sigma"])
    assert len(fig.axes) == 2 and len(fig.axes[0].patches) == 2


def test_prior_predictive(bayes_ss_intercept):
    idata = bayes_ss_intercept.prior_predictive(draws=50, seed=1)
    assert idata["prior_predictive"]["Reaction"].shape == (1, 50, 180)
    again = bayes_ss_intercept.prior_predictive(draws=50, seed=1)
    assert (again["prior_predictive"]["Reaction"].values == idata["prior_predictive"]["Reaction"].values).all()
    fig = plot_prior_predictive(bayes_ss_intercept, draws=20)
    assert len(fig.axes[0].lines) >= 21


def test_cli_compare_priors_writes_a_run_folder(tmp_path, capsys):
    from pathlib import Path

    from multilevel.cli import main

    spec = Path(__file__).resolve().parents[1] / "models" / "sleepstudy-priors.toml"
    out = tmp_path / "priors"
    assert main(["compare-priors", str(spec), "--out", str(out), "--draws", "300", "--tune", "500",
                 "--params", "Days", "sigma"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["loo.csv", "posteriors.png", "spec.toml",
                                                     "summary.csv", "table.md"]
    assert "tight" in capsys.readouterr().out
    assert main(["fit", str(spec)]) == 1
    assert "compare-priors" in capsys.readouterr().err
