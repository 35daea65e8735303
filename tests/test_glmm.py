"""GLMMs by Laplace ML (lme4's glmer) beyond the reference numbers in test_freq_reference.py:
the Laplace deviance itself, adaptive Gauss-Hermite quadrature, responses, standard
errors, predictions and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import multilevel as ml
from multilevel.errors import DataError, FamilyError, SpecError
from multilevel.freq.agq import AGQDeviance
from multilevel.freq.glmm import LaplaceProblem
from multilevel.freq.neldermead import nelder_mead

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp_fit():
    return ml.fit(CBPP, "cbpp", family="binomial", method="ml")


def test_agq_with_many_points_is_the_exact_integral(cbpp_fit):
    """Per herd, the marginal likelihood by brute-force quadrature equals AGQ(25), and
    AGQ(1) equals the Laplace deviance."""
    m = cbpp_fit
    problem = LaplaceProblem(m.design, "binomial")
    par = np.concatenate([m.theta.to_numpy(), m.fixef.to_numpy()])
    laplace = problem.pirls_u(par[:1], par[1:])[0]
    assert AGQDeviance(problem, 1, {})(par) == pytest.approx(laplace, rel=1e-12)
    agq = AGQDeviance(problem, 25, {})(par)
    y, n = problem.y, problem.n
    eta0, sd = m.design.X @ m.fixef.to_numpy(), m.theta.iloc[0]
    codes = m.design.reterms[0].codes
    total = 0.0
    for level in range(m.design.reterms[0].n_levels):
        rows = codes == level

        def density(b):
            p = 1 / (1 + np.exp(-(eta0[rows] + b)))
            return np.exp(np.sum(stats.binom.logpmf(y[rows], n[rows], p))) * stats.norm.pdf(b, 0, sd)

        total += np.log(integrate.quad(density, -10 * sd, 10 * sd, epsabs=0, epsrel=1e-12)[0])
    assert agq == pytest.approx(-2 * total, rel=1e-9)
    assert abs(agq - laplace) > 1e-3  # the Laplace approximation is an approximation


def test_bernoulli_accepts_numbers_and_two_level_factors():
    verb = ml.datasets.load("VerbAgg")
    verb = verb[verb["item"].isin(verb["item"].cat.categories[:4])]
    factor = ml.fit("r2 ~ btype + (1 | id)", verb, family="bernoulli", method="ml")
    numeric = ml.fit("y ~ btype + (1 | id)", verb.assign(y=(verb["r2"] == "Y").astype(int)),
                     family="bernoulli", method="ml")
    assert factor.loglik == pytest.approx(numeric.loglik, rel=1e-12)
    assert factor.converged and factor.summary().columns.tolist() == [
        "estimate", "std_error", "z_value", "p_value"]


def test_binomial_needs_successes_and_trials():
    with pytest.raises(FamilyError, match=r"cbind\(successes, failures\)"):
        ml.fit("incidence ~ period + (1 | herd)", "cbpp", family="binomial", method="ml")
    bad = ml.datasets.load("cbpp").assign(size=lambda d: d["incidence"] - 1)
    with pytest.raises(DataError, match="0 <= successes <= trials"):
        ml.fit("cbind(incidence, size - incidence) ~ 1 + (1 | herd)", bad, family="binomial",
               method="ml")


def test_standard_errors_from_the_hessian_and_rx(cbpp_fit):
    """glmer's default vcov inverts the finite-difference Hessian over (θ, β); the R_X
    version (use.hessian = FALSE) is close but not equal."""
    m = cbpp_fit
    assert m.vcov_source == "hessian"
    rx = np.sqrt(np.diag(np.linalg.inv(m.pls.RXtRX)))
    np.testing.assert_allclose(m.se, rx, rtol=0.05)
    assert not np.allclose(m.se, rx, rtol=1e-4)


def test_predictions_on_both_scales_and_new_herds(cbpp_fit):
    m = cbpp_fit
    link = m.predict(type="link")["estimate"]
    np.testing.assert_allclose(m.predict(type="response")["estimate"], 1 / (1 + np.exp(-link)))
    pop = m.predict(group_effects=False)["estimate"]
    np.testing.assert_allclose(pop, m.design.X @ m.fixef.to_numpy())
    new = pd.DataFrame({"period": ["1", "2"], "herd": ["1", "99"]})
    pred = m.predict(new)["estimate"].to_numpy()
    assert pred[0] == pytest.approx(m.fixef.iloc[0] + m.ranef["herd"].loc["1", "(Intercept)"])
    assert pred[1] == pytest.approx(m.fixef.iloc[0] + m.fixef.iloc[1])
    with pytest.raises(DataError, match=r"\['99'\] of 'herd'"):
        m.predict(new, new_groups="error")


def test_printed_summary_and_contract(cbpp_fit):
    m = cbpp_fit
    text = repr(m)
    for piece in ["Generalized linear mixed model fit by maximum likelihood (Laplace Approximation)",
                  "Family: binomial  ( logit )", "AIC", "herd", "Fixed effects:", "z_value"]:
        assert piece in text, piece
    assert m.reml_criterion is None and m.sigma == 1.0 and m.df == 5 and m.nobs == 56
    assert m.varcorr["grp"].tolist() == ["herd"] and m.refit_ml() is m
    assert m.deviance < -2 * m.loglik  # glmer's deviance(): squared deviance residuals
    dev = m.deviance_function()
    par = np.concatenate([m.theta.to_numpy(), m.fixef.to_numpy()])
    assert dev(par) == pytest.approx(-2 * m.loglik, rel=1e-10)


def test_nagq_needs_one_scalar_random_effect():
    with pytest.raises(SpecError, match="single scalar random effect"):
        ml.fit("TICKS ~ YEAR + (1 | BROOD) + (1 | LOCATION)", "grouseticks", family="poisson",
               method="ml", nAGQ=5)
    with pytest.raises(SpecError, match="non-negative integer"):
        ml.fit(CBPP, "cbpp", family="binomial", method="ml", nAGQ=-1)   # nAGQ=0 is glmer's


def test_nagq0_has_no_profile():
    """nAGQ = 0 optimizes θ alone (β inside PIRLS): no deviance over (θ, β) to profile."""
    m = ml.fit(CBPP, "cbpp", family="binomial", method="ml", nAGQ=0)
    assert m.vcov_source == "RX" and m.nagq == 0
    with pytest.raises(SpecError, match="nAGQ=0"):
        m.deviance_function()


def test_poisson_recovers_a_simulated_truth():
    """300 groups of 20 counts, log μ = 0.5 + 0.3 x + b, b ~ N(0, 0.6²): estimates within
    3 SE of the truth and σ_b within 15 %."""
    rng = np.random.default_rng(20261123)
    g = np.repeat(np.arange(300), 20)
    x = rng.normal(size=g.size)
    y = rng.poisson(np.exp(0.5 + 0.3 * x + rng.normal(0, 0.6, 300)[g]))
    m = ml.fit("y ~ x + (1 | g)", pd.DataFrame({"y": y, "x": x, "g": g}), family="poisson", method="ml")
    assert np.all(np.abs(m.fixef.to_numpy() - [0.5, 0.3]) < 3 * m.se.to_numpy())
    assert m.varcorr["sdcor"].iloc[0] == pytest.approx(0.6, rel=0.15)


def test_glmm_lrt_between_nested_models(cbpp_fit):
    small = ml.fit("cbind(incidence, size - incidence) ~ 1 + (1 | herd)", "cbpp", family="binomial",
                   method="ml")
    res = ml.lrt(small, cbpp_fit)
    assert res.df == 3 and res.chisq > 0 and not res.refitted and res.p_boundary is None


def test_successes_and_trials_as_p_equal_cbind(cbpp_fit):
    m = ml.fit("p(incidence, size) ~ period + (1 | herd)", "cbpp", family="binomial", method="ml")
    assert m.loglik == pytest.approx(cbpp_fit.loglik, rel=1e-10)
    np.testing.assert_allclose(m.fixef, cbpp_fit.fixef, rtol=1e-6)


def _nm_test_function(x):
    return 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2 + 0.3 * x[2] ** 2 + x[2] * x[0]


# lme4::Nelder_Mead(f, c(-1.2, 1, 0.5), lower, control = list(xst = c(.1, .2, .3), xt = rep(1e-5, 3)
# [, maxfun = 50])) in R 4.2.2 / lme4 1.1-31: par, fval, feval (FtolAbs changes nothing)
NM_R = [
    ({"lower": [-np.inf, 0.9, -np.inf]}, [-0.94545116557729902, 0.90000000000000002, 1.575757519734363],
     3.0436299851385558, 213, True),
    ({}, [5.9999996251374252, 35.999995504732439, -9.9999995393661791], -4.9999999999999716, 994, True),
    ({"maxfun": 50}, [-0.97567221768616608, 0.95650110601629845, 1.8079952957174692], 3.1220077957739685,
     51, False),
]


@pytest.mark.parametrize("options, par, fval, feval, converged", NM_R)
def test_nelder_mead_retraces_lme4(options, par, fval, feval, converged):
    """Same iterates as lme4's C++ Nelder-Mead: the end point to the last bits."""
    res = nelder_mead(_nm_test_function, [-1.2, 1.0, 0.5], [0.1, 0.2, 0.3], xtol_abs=[1e-5] * 3, **options)
    np.testing.assert_allclose(res.x, par, rtol=1e-12)
    assert res.fval == pytest.approx(fval, rel=1e-13)
    assert (res.evaluations, res.converged) == (feval, converged)


def test_default_and_tight_optimizers(cbpp_fit):
    """The default replays glmer's run (its deviance function: lme4's PIRLS from the
    fit's start); optimizer="bobyqa" goes on to the optimum of the exact Laplace deviance."""
    tight = ml.fit(CBPP, "cbpp", family="binomial", method="ml", optimizer="bobyqa")
    assert cbpp_fit.optimizer == "glmer" and tight.optimizer == "bobyqa"
    assert tight.loglik > cbpp_fit.loglik + 2e-4
    exact = tight.deviance_function()
    at_default = exact(np.concatenate([cbpp_fit.theta.to_numpy(), cbpp_fit.fixef.to_numpy()]))
    assert -2 * tight.loglik < at_default
    np.testing.assert_allclose(cbpp_fit.fixef, tight.fixef, rtol=1e-3)


def test_optimizer_options_are_checked():
    with pytest.raises(SpecError, match="'glmer'.*'bobyqa'"):
        ml.fit(CBPP, "cbpp", family="binomial", method="ml", optimizer="nelder-mead")
    with pytest.raises(SpecError, match="optimizer='bobyqa' with rhoend"):
        ml.fit(CBPP, "cbpp", family="binomial", method="ml", rhoend=1e-8)
    with pytest.raises(SpecError, match="optimizer applies to GLMMs"):
        ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="ml", optimizer="bobyqa")
    m = ml.fit(CBPP, "cbpp", family="binomial", method="ml", optimizer="bobyqa", rhoend=1e-8)
    assert m.converged


def test_glmer_run_that_runs_out_of_evaluations_warns():
    with pytest.warns(ml.errors.ConvergenceWarning, match="failure to converge in 40 evaluations"):
        m = ml.fit(CBPP, "cbpp", family="binomial", method="ml", maxeval=40)
    assert not m.converged
