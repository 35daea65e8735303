"""Prior sensitivity: a tight, wrong prior is flagged; the weak default is not."""

from __future__ import annotations

import matplotlib
import pytest

import multilevel as ml
from multilevel.errors import PriorError
from multilevel.plots import prior_predictive as plot_prior_predictive
from multilevel.priors import Prior
from multilevel.sensitivity import compare_priors

# The assertions concern prior sensitivity of Days and sigma; at this size the intercept's
# R-hat can land just above 1.01 (it is reported in each fit's convergence report).
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::multilevel.errors.ConvergenceWarning")]
matplotlib.use("Agg")
FORMULA = "Reaction ~ Days + (1 | Subject)"
SETTINGS = dict(draws=500, tune=1000, chains=4, seed=7)
TIGHT_WRONG = {"Days": Prior("Normal", mu=0, sigma=0.5)}   # lme4: Days = 10.5 (SE 0.8)
# ridge on the standardized slope: Days/sd(Days) ~ N(0, 1), i.e. Days ~ N(0, 0.35)
RIDGE = ml.priors.ridge(1.0)


@pytest.fixture(scope="module")
def comparison(sleepstudy):
    return compare_priors(FORMULA, sleepstudy, {"weak": None, "tight": TIGHT_WRONG, "ridge": RIDGE},
                          **SETTINGS)


def test_tight_wrong_prior_flagged_weak_prior_not(comparison):
    table = comparison.sensitivity(["(Intercept)", "Days", "sigma"])
    assert (table["weak"]["flag"] == "ok").all(), table
    assert table[("tight", "flag")]["Days"].startswith("prior-data conflict")
    # a preset's prior is power-scaled too (its density on the standardized slopes)
    assert table[("ridge", "prior")]["Days"] > 0.05
    assert "ridge_standardized" in comparison.fits["ridge"].sensitivity(["Days"]).attrs["power_scaled"]
    with pytest.raises(PriorError, match=r"No parameter\(s\) 'days'.*choose from: \(Intercept\), Days, "
                                          r"sd__\(Intercept\)\|Subject, sigma\.$"):
        comparison.fits["weak"].sensitivity(["days"])


def test_correlated_block_sd_priors_are_power_scaled(bayes_ss_slopes, sleepstudy):
    """The SDs of a correlated block live in an LKJ Cholesky prior that the posterior does
    not store: their HalfNormal priors must still be scaled, so a tight one is flagged."""
    weak = bayes_ss_slopes.sensitivity()
    assert (weak["flag"] == "ok").all(), weak
    # one name everywhere: the rows and the scaled priors are the summary's parameters
    assert list(weak.index) == list(bayes_ss_slopes.summary().index)
    assert {"sd__(Intercept)|Subject", "sd__Days|Subject", "cor__(Intercept).Days|Subject"} <= \
        set(weak.attrs["power_scaled"])
    # a prior given for the summary's SD name is the prior of that SD
    tight_sd = {"sd__Days|Subject": Prior("HalfNormal", sigma=0.5)}
    fit = ml.fit("Reaction ~ Days + (Days | Subject)", sleepstudy, priors=tight_sd, **SETTINGS)
    table = fit.sensitivity(["sd__Days|Subject"])
    assert table.loc["sd__Days|Subject", "flag"].startswith("prior-data conflict"), table


def test_compare_priors_table_and_plot(comparison):
    assert set(comparison.summary.columns.get_level_values(0)) == {"weak", "tight", "ridge"}
    days = comparison.summary.loc["Days"]
    assert days[("tight", "estimate")] < days[("weak", "estimate")] - 3   # shrunk toward 0
    assert comparison.loo.loc["weak", "elpd_loo"] > comparison.loo.loc["tight", "elpd_loo"]
    fig = comparison.plot(["Days", "sigma"])
    assert len(fig.axes) == 2 and len(fig.axes[0].patches) == 3
    with pytest.raises(PriorError, match="No parameter 'days'"):
        comparison.plot(["days"])
    with pytest.raises(PriorError, match="at least two"):
        compare_priors(FORMULA, "sleepstudy", {"weak": None})


def test_prior_predictive(bayes_ss_intercept):
    idata = bayes_ss_intercept.prior_predictive(draws=50, seed=1)
    assert idata["prior_predictive"]["Reaction"].shape == (1, 50, 180)
    again = bayes_ss_intercept.prior_predictive(draws=50, seed=1)
    assert (again["prior_predictive"]["Reaction"].values == idata["prior_predictive"]["Reaction"].values).all()
    fig = plot_prior_predictive(bayes_ss_intercept, draws=20)
    assert len(fig.axes[0].lines) >= 21


# the command line (`multilevel compare-priors`): tests/test_progress.py, through a terminal
