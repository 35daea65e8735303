"""The effect verbs on Bayesian fits: every summary from per-draw quantities.

Uses the session fixture ``bayes_ss_slopes`` (sleepstudy, correlated slopes, 4 x 1000 draws)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import multilevel as ml
from multilevel.effects import comparisons, describe_posterior, emmeans, hypothesis, predictions, r2_bayes, slopes
from multilevel.effects.hypothesis import parameter_draws
from multilevel.errors import DataError

pytestmark = pytest.mark.slow


def eta_draws(fit, group_effects=True):
    """η per draw for the fitted rows, from fixef_draws and ranef_draws (not the predict layer)."""
    d = fit.design
    eta = fit.fixef_draws().to_numpy() @ d.X.T
    if group_effects:
        for term in d.reterms:
            b = fit.ranef_draws()[term.name]                      # (S, levels, q)
            eta = eta + np.einsum("snq,nq->sn", b[:, term.codes, :], term.X)
    return eta


def test_r2_equals_brms_definition(bayes_ss_slopes):
    fit = bayes_ss_slopes
    y = np.asarray(fit.design.y, dtype=float)
    table, draws = r2_bayes(fit, return_draws=True)
    for kind, ge in [("conditional", True), ("marginal", False)]:
        ypred = eta_draws(fit, ge)
        e = y - ypred
        r2 = ypred.var(axis=1, ddof=1) / (ypred.var(axis=1, ddof=1) + e.var(axis=1, ddof=1))
        np.testing.assert_allclose(draws[kind], r2, rtol=1e-9, atol=0)
        assert table.loc[kind, "estimate"] == pytest.approx(r2.mean(), rel=1e-9)
        assert (table.loc[kind, "lower"], table.loc[kind, "upper"]) == pytest.approx(
            tuple(np.quantile(r2, [0.025, 0.975])), rel=1e-9)
    # sleepstudy: subjects explain much of the variance (lme4's conditional R² is about 0.8)
    assert table.loc["conditional", "estimate"] > 0.75 > table.loc["marginal", "estimate"] > 0.2


def test_loo_r2_as_brms(bayes_ss_slopes):
    """brms's loo_R2 from the same pieces: PSIS weights on −log p(y_i | θ_s) (arviz-stats'
    psislw), the LOO mean per row, Dirichlet-weighted variances with the n/(n − 1) factor."""
    from arviz_stats.base import array_stats

    from multilevel.effects import loo_r2

    fit = bayes_ss_slopes
    y = np.asarray(fit.design.y, dtype=float)
    ll = fit.idata["log_likelihood"]["Reaction"].values
    ll = ll.reshape(-1, ll.shape[-1])
    # the log-likelihood draws line up with the predictions (gaussian density of y)
    ypred = eta_draws(fit)
    sigma = fit.sigma_draws()[:, None]
    np.testing.assert_allclose(ll, stats.norm.logpdf(y, ypred, sigma), rtol=1e-6)
    lw, khat = array_stats.psislw(ll.T, r_eff=1)   # it negates the log-likelihood itself
    raw = np.exp(-ll.T - np.log(np.exp(-ll.T).sum(axis=1, keepdims=True)))   # plain 1/p weights
    # where the raw weights' tail is light (k < 0.5) smoothing changes little: the same sign and
    # scale of the log-likelihood; an influential row's smoothed tail differs (0.5% at seed 1)
    light = khat < 0.5
    assert light.sum() > 0.9 * y.size
    np.testing.assert_allclose((np.exp(lw) * ypred.T).sum(1)[light], (raw * ypred.T).sum(1)[light],
                               rtol=5e-3)
    err = (np.exp(lw) * ypred.T).sum(axis=1) - y
    n = y.size
    w = np.random.default_rng(5).dirichlet(np.ones(n), size=ypred.shape[0])
    def wvar(v):
        return n / (n - 1) * (w @ v**2 - (w @ v) ** 2)
    expected = 1 - wvar(err) / wvar(y)
    table, values = loo_r2(fit, seed=5, return_draws=True)
    np.testing.assert_allclose(values, expected, rtol=1e-9)
    assert table.loc["loo", "estimate"] == pytest.approx(expected.mean(), rel=1e-9)
    # leaving rows out costs fit: below the same R² of the in-sample posterior-mean predictions
    in_sample = 1 - wvar(ypred.mean(axis=0) - y) / wvar(y)
    assert 0.5 < table.loc["loo", "estimate"] < in_sample.mean() - 0.02


def test_by_averages_come_from_averaged_draws(bayes_ss_slopes):
    """Averaging per draw then summarizing gives the interval of the average; averaging the
    units' interval bounds (Bambi's interpret, bambi #1004) gives a much wider one here,
    because the subjects' effects are nearly independent across subjects."""
    fit = bayes_ss_slopes
    out, draws = predictions(fit, by=True, return_draws=True)
    unit, unit_draws = predictions(fit, return_draws=True)
    averaged = unit_draws.mean(axis=1)
    np.testing.assert_allclose(draws[:, 0], averaged, rtol=1e-12)
    lo, hi = np.quantile(averaged, [0.025, 0.975])
    assert (out["lower"].iloc[0], out["upper"].iloc[0]) == pytest.approx((lo, hi), rel=1e-12)
    assert out["estimate"].iloc[0] == pytest.approx(np.median(averaged), rel=1e-12)
    ours = out["upper"].iloc[0] - out["lower"].iloc[0]
    naive = unit["upper"].mean() - unit["lower"].mean()
    assert ours < 0.5 * naive
    # unit level: the same draws as fixef/ranef give, through the inverse link (identity)
    np.testing.assert_allclose(unit_draws, eta_draws(fit), rtol=1e-10)


def test_by_group_predictions_and_slopes(bayes_ss_slopes):
    fit = bayes_ss_slopes
    _, draws = predictions(fit, by="Subject", return_draws=True)
    subj = fit.design.frame.data["Subject"].astype(str).to_numpy()
    eta = eta_draws(fit)
    first = min(set(subj))
    np.testing.assert_allclose(draws[:, 0], eta[:, subj == first].mean(axis=1), rtol=1e-10)
    # a linear model's slope in Days per draw is β_Days + b_Days[subject]
    _, sdraws = slopes(fit, "Days", by=True, group_effects=False, return_draws=True)
    np.testing.assert_allclose(sdraws[:, 0], fit.fixef_draws()["Days"], rtol=1e-6)
    _, cdraws = comparisons(fit, {"Days": 3}, by=True, group_effects=False, return_draws=True)
    np.testing.assert_allclose(cdraws[:, 0], 3 * fit.fixef_draws()["Days"], rtol=1e-9)


def test_emmeans_per_draw(bayes_ss_slopes):
    fit = bayes_ss_slopes
    out = emmeans(fit, "Days", at={"Days": [0, 4, 9]}, contrasts="pairwise")
    B = fit.fixef_draws().to_numpy()
    m = B[:, 0][:, None] + B[:, 1][:, None] * np.array([0.0, 4.0, 9.0])
    np.testing.assert_allclose(out["emmeans"]["estimate"], np.median(m, axis=0), rtol=1e-10)
    d = m[:, 0] - m[:, 2]
    row = out["contrasts"].iloc[1]
    assert row["contrast"] == "Days0 - Days9"   # emmeans labels numeric levels with the name
    assert (row["lower"], row["upper"]) == pytest.approx(tuple(np.quantile(d, [0.025, 0.975])), rel=1e-10)


def test_hypothesis_one_sided_is_the_share_of_draws(bayes_ss_slopes):
    fit = bayes_ss_slopes
    days = fit.fixef_draws()["Days"].to_numpy()
    out = hypothesis(fit, ["Days > 10", "Days < 10", "Days - 2 * Intercept / 50 > 0"], ci=0.9)
    share = np.mean(days > 10)
    assert out["post_prob"].iloc[0] == share                           # exactly
    assert out["post_prob"].iloc[1] == np.mean(days < 10)
    assert out["evid_ratio"].iloc[0] == pytest.approx(share / np.mean(days <= 10), rel=1e-12)
    assert out["estimate"].iloc[0] == pytest.approx(days.mean() - 10, rel=1e-12)
    assert out["lower"].iloc[0] == pytest.approx(np.quantile(days - 10, 0.1), rel=1e-12)
    assert np.isinf(out["upper"].iloc[0]) and np.isinf(out["lower"].iloc[1])
    inter = fit.fixef_draws()["(Intercept)"].to_numpy()
    assert out["post_prob"].iloc[2] == np.mean(days - 2 * inter / 50 > 0)


def test_point_hypothesis_savage_dickey_against_the_normal_prior(bayes_ss_slopes):
    """The prior draws are the fit's own (Bambi's Normal prior on Days): the ratio from prior
    draws equals the one with the analytic Normal prior density (Monte Carlo: 10 %)."""
    fit = bayes_ss_slopes
    bmb = fit.built.bambi
    prior = bmb.conditional_parameters[bmb.family.likelihood.parent].common_terms["Days"].prior
    assert prior.name == "Normal"
    mu, sd = float(prior.args["mu"]), float(prior.args["sigma"])
    days = fit.fixef_draws()["Days"].to_numpy()
    out = hypothesis(fit, "Days = 9", prior_draws=8000, seed=3)
    from multilevel.effects import savage_dickey

    analytic = savage_dickey(days, stats.norm(mu, sd).pdf, 9.0)
    assert out["evid_ratio"].iloc[0] == pytest.approx(analytic, rel=0.1)
    assert out["post_prob"].iloc[0] == pytest.approx(analytic / (1 + analytic), rel=0.1)
    draws = parameter_draws(fit, "prior", 8000, 3)
    assert draws["Days"].std() == pytest.approx(sd, rel=0.05)
    assert draws["Days"].mean() == pytest.approx(mu, abs=0.05 * sd)


def test_describe_posterior_of_a_fit(bayes_ss_slopes):
    fit = bayes_ss_slopes
    out = describe_posterior(fit)
    half = 0.1 * np.std(fit.design.y, ddof=1)
    assert out["ROPE_high"].iloc[0] == pytest.approx(half)
    days = fit.fixef_draws()["Days"].to_numpy()
    row = out.set_index("Parameter").loc["Days"]
    assert row["pd"] == max(np.mean(days > 0), np.mean(days < 0))
    assert row["Median"] == np.median(days)
    lo, hi = np.quantile(days, [0.025, 0.975])
    inside = days[(days >= lo) & (days <= hi)]
    assert row["ROPE_Percentage"] == np.mean((inside >= -half) & (inside <= half))


def test_freq_fit_refused(sleepstudy):
    m = ml.fit("Reaction ~ Days + (1 | Subject)", sleepstudy, method="reml")
    with pytest.raises(DataError, match="Bayesian"):
        hypothesis(m, "Days > 0")
    with pytest.raises(DataError, match="Bayesian"):
        r2_bayes(m)
    with pytest.raises(DataError, match="Bayesian fit or a table"):
        describe_posterior(m)


def test_intercept_prior_is_shifted_like_the_posterior(bayes_ss_slopes):
    """Bambi samples the intercept of centred predictors and reports the one at Days = 0;
    the prior draws get the same shift, so their SD is √(sd₀² + mean(Days)²·sd_Days²)."""
    fit = bayes_ss_slopes
    bmb = fit.built.bambi
    component = bmb.conditional_parameters[bmb.family.likelihood.parent]
    sd0 = float(component.intercept_term.prior.args["sigma"])
    sd_days = float(component.common_terms["Days"].prior.args["sigma"])
    prior = parameter_draws(fit, "prior", 8000, 4)
    mean_days = fit.design.frame.data["Days"].mean()
    assert prior["(Intercept)"].std() == pytest.approx(np.hypot(sd0, mean_days * sd_days), rel=0.05)


@pytest.fixture(scope="module")
def bayes_cbpp():
    return ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", family="binomial",
                  draws=500, tune=500, chains=2, seed=20261203, progress=False)


def test_binomial_r2_emmeans_and_comparisons_per_draw(bayes_cbpp):
    fit = bayes_cbpp
    trials = np.asarray(fit.design.frame.trials, dtype=float)
    y = np.asarray(fit.design.y, dtype=float)
    ypred = trials * 1 / (1 + np.exp(-eta_draws(fit)))        # brms's posterior_epred: n·p
    r2 = ypred.var(1, ddof=1) / (ypred.var(1, ddof=1) + (y - ypred).var(1, ddof=1))
    np.testing.assert_allclose(r2_bayes(fit, return_draws=True)[1]["conditional"], r2, rtol=1e-9)
    B = fit.fixef_draws().to_numpy()
    eta = B[:, :1] + np.column_stack([np.zeros(len(B)), B[:, 1:]])   # periods 1..4, population level
    out = emmeans(fit, "period", type="response", contrasts="trt.vs.ctrl")
    np.testing.assert_allclose(out["emmeans"]["estimate"], np.median(1 / (1 + np.exp(-eta)), axis=0), rtol=1e-10)
    np.testing.assert_allclose(out["contrasts"]["estimate"], np.median(np.exp(B[:, 1:]), axis=0), rtol=1e-10)
    assert out["contrasts"]["contrast"].tolist() == ["period2 / period1", "period3 / period1", "period4 / period1"]   # emmeans labels number-like levels with their name
    # average risk difference: unit-level on the data, averaged per draw
    _, d = comparisons(fit, "period", by=True, group_effects=False, return_draws=True)
    p = 1 / (1 + np.exp(-eta))
    np.testing.assert_allclose(d[:, 0], p[:, 1] - p[:, 0], rtol=1e-9)
