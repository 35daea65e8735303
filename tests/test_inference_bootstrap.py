"""simulate, the parametric bootstrap intervals (vs lme4's confint(method = "boot")) and
the bootstrap LRT (vs pbkrtest's PBmodcomp) (tests/reference/make_inference.R)."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import multilevel as ml
from multilevel.inference import bootstrap_lrt, confint, simulate

REF = json.loads((Path(__file__).parent / "reference" / "inference.json").read_text())
SS = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def fit():
    return ml.fit(SS, "sleepstudy", method="reml")


def test_simulate_moments(fit):
    """Simulated responses have the model's marginal mean and covariance: per subject,
    Var(y_ij) = z'Σz + σ², and the mean is Xβ."""
    sims = simulate(fit, nsim=4000, seed=3).to_numpy()
    mean = fit.design.X @ fit.pls.beta
    Z = fit.design.reterms[0].X
    cov = fit.covariance()["Subject"]
    var = np.einsum("ij,jk,ik->i", Z, cov, Z) + fit.sigma ** 2
    se_mean = np.sqrt(var / 4000)
    assert np.all(np.abs(sims.mean(axis=1) - mean) < 5 * se_mean)
    # variance of a sample of 4000: relative SE ≈ sqrt(2/4000) = 2.2 %
    np.testing.assert_allclose(sims.var(axis=1, ddof=1), var, rtol=5 * np.sqrt(2 / 4000))


def test_simulate_seeded_and_families(fit):
    a, b = simulate(fit, nsim=3, seed=7), simulate(fit, nsim=3, seed=7)
    assert a.equals(b)
    assert not a.equals(simulate(fit, nsim=3, seed=8))
    kept = simulate(fit, nsim=2000, seed=1, group_effects=False).to_numpy()
    # use.u = TRUE: the conditional modes stay, only the residual is new
    np.testing.assert_allclose(kept.mean(axis=1), fit.linear_predictor(), atol=5 * fit.sigma / np.sqrt(2000))
    g = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
               family="binomial", method="ml")
    y = simulate(g, nsim=5, seed=1).to_numpy()
    trials = g.design.frame.trials
    assert np.all((y >= 0) & (y <= trials[:, None])) and np.allclose(y, np.round(y))


@pytest.fixture(scope="module")
def boot(fit):
    ref = REF["boot"]
    return confint(fit, method="boot", nsim=ref["nsim"], seed=20261203)


@pytest.mark.slow
def test_boot_intervals_within_monte_carlo_error(boot):
    """Different generators, so the two percentile intervals differ by Monte Carlo error.
    The SE of a bootstrap quantile q_α from N replicates is sqrt(α(1−α)/N) / f(q_α),
    f estimated by a kernel density of lme4's own replicates; the difference of two
    independent estimates has √2 times that SE; we allow 4 of them."""
    ref = REF["boot"]
    reps = np.asarray(ref["replicates"])
    n, alpha = ref["nsim"], (1 - ref["level"]) / 2
    assert list(boot.index) == ref["interval"]["parameter"]
    for side, a in (("lower", alpha), ("upper", 1 - alpha)):
        for k, name in enumerate(boot.index):
            r_val = ref["interval"][side][k]
            dens = stats.gaussian_kde(reps[:, k])(r_val)[0]
            mc_se = np.sqrt(a * (1 - a) / n) / dens
            assert abs(boot[side].iloc[k] - r_val) <= 4 * np.sqrt(2) * mc_se, (name, side)
    # the bootstrap SDs agree within their own sampling error (relative SE ≈ 1/sqrt(2N))
    np.testing.assert_allclose(boot["std_error"], ref["sd"], rtol=4 * np.sqrt(2) / np.sqrt(2 * n))
    assert boot.attrs["replicates"].shape == (n, 6)


def test_boot_seeded_runs_identical(fit):
    a = confint(fit, method="boot", nsim=10, seed=5)
    b = confint(fit, method="boot", nsim=10, seed=5)
    assert a.equals(b)
    np.testing.assert_array_equal(a.attrs["replicates"], b.attrs["replicates"])


@pytest.mark.slow
def test_boot_on_dask_equals_serial(fit):
    distributed = pytest.importorskip("distributed")
    serial = confint(fit, method="boot", nsim=30, seed=11)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as lc, distributed.Client(lc) as client:
        on_dask = confint(fit, method="boot", nsim=30, seed=11, client=client)
    np.testing.assert_array_equal(on_dask.attrs["replicates"], serial.attrs["replicates"])
    assert on_dask.equals(serial)


@pytest.mark.slow
def test_bootstrap_lrt_against_pbmodcomp():
    """PBmodcomp with 1000 simulations found no simulated statistic above the observed
    42.14 (p = 1/1001); with 200 we expect the same (p = 1/201). The reference
    distributions agree within Monte Carlo error in their mean."""
    ref = REF["pbmodcomp"]
    d = ml.datasets.load("sleepstudy")
    small = ml.fit(ref["small"], d, method="ml")
    large = ml.fit(ref["large"], d, method="reml")         # refitted with ML, as ml.lrt
    res = bootstrap_lrt(small, large, nsim=200, seed=1)
    assert res.stat == pytest.approx(ref["stat"], rel=1e-6)
    assert res.df == ref["df"]
    assert res.p_chisq == pytest.approx(ref["p_lrt"], rel=1e-5)
    assert res.p_bootstrap == pytest.approx(1 / 201)
    r_ref = np.asarray(ref["ref"])
    se = np.sqrt(np.var(r_ref) / len(r_ref) + np.var(res.reference) / len(res.reference))
    assert abs(np.mean(res.reference) - np.mean(r_ref)) < 4 * se
    again = bootstrap_lrt(small, large, nsim=20, seed=1)     # the same seed: the same first draws
    np.testing.assert_array_equal(again.reference, res.reference[:20])


def test_glmm_bootstrap_runs_seeded():
    """Binomial GLMM: the bootstrap refits glmer's default fit to simulated counts; no
    lme4 reference at this size, so: seeded runs identical, intervals bracket the estimates."""
    g = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
               family="binomial", method="ml")
    a = confint(g, method="boot", nsim=12, seed=3)
    b = confint(g, method="boot", nsim=12, seed=3)
    assert a.equals(b)
    assert list(a.index) == [".sig01", "(Intercept)", "period2", "period3", "period4"]
    assert np.all(a["lower"] < a["upper"])
    assert a.loc["(Intercept)", "lower"] < g.fixef["(Intercept)"] < a.loc["(Intercept)", "upper"]
