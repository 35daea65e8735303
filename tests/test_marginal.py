"""The marginal sampler (multilevel.bayes.marginal): exact collapsed likelihood, exact
conditional draws, the same posterior as NUTS, reproducible, and refused where it does not apply."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel as ml
from multilevel.bayes.marginal.gaussian import MarginalGaussian
from multilevel.errors import FitError
from multilevel.formula import build_design, model_frame, parse_formula
from multilevel.freq.factor import lambda_matrix, term_factors


def _design(formula, data):
    parsed = parse_formula(formula)
    return build_design(parsed, model_frame(parsed, ml.datasets.load(data)))


def _dense_pieces(design, theta, sigma, prior_sd):
    """y ~ N(X m, σ²I + σ² ZΛΛ'Z' + X S X'), everything dense."""
    mg = MarginalGaussian(design, design.X, np.zeros(design.p), prior_sd)
    Lam = lambda_matrix(mg.layout, term_factors(mg.layout, theta)).toarray()
    Z = mg.layout.Z.toarray()
    W = np.hstack([design.X, Z])
    C = np.zeros((W.shape[1], W.shape[1]))
    C[:design.p, :design.p] = np.diag(prior_sd ** 2)
    C[design.p:, design.p:] = sigma ** 2 * Lam @ Lam.T
    V = sigma ** 2 * np.eye(design.n) + W @ C @ W.T
    return mg, W, C, V


MODELS = [  # formula, data, θ, σ
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", [0.9, 0.05, 0.25], 25.0),
    ("Reaction ~ Days + (Days || Subject)", "sleepstudy", [0.9, 0.2], 25.0),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", [1.5, 3.3], 0.55),
    ("strength ~ 1 + (1 | batch/cask)", "Pastes", [3.5, 1.2], 0.9),
]


@pytest.mark.parametrize("formula, data, theta, sigma", MODELS)
def test_collapsed_loglik_equals_the_dense_gaussian(formula, data, theta, sigma):
    design = _design(formula, data)
    prior_sd = np.full(design.p, 40.0)
    mg, _, _, V = _dense_pieces(design, np.array(theta), sigma, prior_sd)
    ours = mg.state(np.array(theta), sigma).loglik
    exact = stats.multivariate_normal(np.zeros(design.n), V).logpdf(design.y)
    assert ours == pytest.approx(exact, rel=1e-10)


def test_conditional_draws_have_the_exact_gaussian_moments():
    design = _design(*MODELS[0][:2])
    theta, sigma, prior_sd = np.array(MODELS[0][2]), MODELS[0][3], np.full(2, 40.0)
    mg, W, C, V = _dense_pieces(design, theta, sigma, prior_sd)
    gain = C @ W.T @ np.linalg.inv(V)
    mean, cov = gain @ design.y, C - gain @ W @ C
    rng = np.random.default_rng(7)
    state = mg.state(theta, sigma)
    draws = np.array([np.concatenate(mg.draw(state, rng)) for _ in range(4000)])
    sd = np.sqrt(np.diag(cov))
    assert np.max(np.abs(draws.mean(0) - mean) / (sd / np.sqrt(4000))) < 4.5
    assert np.allclose(draws.std(0) / sd, 1.0, atol=0.06)


@pytest.fixture(scope="module")
def marginal_slopes(sleepstudy):
    return ml.fit("Reaction ~ Days + (Days | Subject)", sleepstudy, sampler="marginal", draws=1000,
                  chains=4, seed=11, progress=False)


def test_marginal_posterior_matches_nuts(marginal_slopes, bayes_ss_slopes):
    ours, nuts = marginal_slopes.summary(), bayes_ss_slopes.summary()
    assert list(ours.index) == list(nuts.index)
    # both are Monte Carlo estimates with ESS of several hundred: 0.2 posterior SD is > 4 MC SEs
    z = (ours["estimate"] - nuts["estimate"]).abs() / nuts["sd"]
    assert z.max() < 0.2, z
    assert np.allclose(ours["sd"] / nuts["sd"], 1.0, atol=0.15)
    assert marginal_slopes.convergence.ok
    assert ours["ess_bulk"].min() > 800          # nearly independent draws: 4000 kept
    assert marginal_slopes.timings["marginal"]["acceptance"] > 0.4


def test_marginal_fit_has_what_every_fit_has(marginal_slopes, sleepstudy):
    fit = marginal_slopes
    assert fit.sampler == "marginal"
    assert fit.idata.log_likelihood["Reaction"].shape == (4, 1000, len(sleepstudy))
    assert set(fit.ranef["Subject"].columns) == {"(Intercept)", "Days"}
    assert len(fit.predict(sleepstudy.head(3))) == 3
    assert "max R-hat" in str(fit.convergence)


def test_same_seed_same_draws_serial_or_forked(sleepstudy, monkeypatch):
    kw = dict(sampler="marginal", draws=200, chains=2, seed=5, progress=False, check=False)
    forked = ml.fit("Reaction ~ Days + (Days || Subject)", sleepstudy, **kw)
    monkeypatch.setattr("os.cpu_count", lambda: 1)   # chains in turn, in this process
    serial = ml.fit("Reaction ~ Days + (Days || Subject)", sleepstudy, **kw)
    assert forked.idata.posterior.equals(serial.idata.posterior)


@pytest.mark.parametrize("kwargs, reason", [
    (dict(family="t"), "not Gaussian"),
    (dict(priors=ml.priors.lasso(1.0)), "coefficient-prior preset"),
    (dict(formula="Reaction ~ Days + (1 | Subject) + ar(time = Days, gr = Subject)"), "ar1/cs residuals"),
])
def test_models_it_cannot_fit_are_refused_with_the_reason(sleepstudy, kwargs, reason):
    kwargs = {"formula": "Reaction ~ Days + (1 | Subject)", **kwargs}
    with pytest.raises(FitError, match=f"cannot fit this model: .*{reason}"):
        ml.fit(data=sleepstudy, sampler="marginal", draws=50, chains=1, progress=False, **kwargs)


def _simulated(n_groups=300, per_group=40, seed=3):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per_group)
    x = rng.normal(size=len(g))
    y = 1.0 + 0.5 * x + rng.normal(0, 0.7, n_groups)[g] + rng.normal(0, 1.0, len(g))
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g]})


def test_auto_sends_many_rows_to_the_marginal_sampler_and_recovers_the_truth():
    data = _simulated()
    fit = ml.fit("y ~ x + (1 | g)", data, draws=300, chains=2, seed=1, progress=False)
    assert fit.sampler == "marginal"
    s = fit.summary()
    truth = {"(Intercept)": 1.0, "x": 0.5, "sd__(Intercept)|g": 0.7, "sigma": 1.0}
    for name, value in truth.items():
        assert abs(s.loc[name, "estimate"] - value) < 4 * s.loc[name, "sd"], name


def test_auto_keeps_nuts_for_small_or_non_gaussian_models(sleepstudy):
    from multilevel.bayes.model import build_model
    from multilevel.bayes.sampling import prefers_marginal

    data = _simulated()
    assert prefers_marginal(build_model("y ~ x + (1 | g)", data))
    assert not prefers_marginal(build_model("Reaction ~ Days + (1 | Subject)", sleepstudy))
    data["count"] = np.round(np.exp(data["y"] / 3)).astype(int)
    assert not prefers_marginal(build_model("count ~ x + (1 | g)", data, family="poisson"))


# ------------------------------------------------------------------ the split-t proposal
class _SplitNormal:
    """A log posterior that is a split normal along the axes of ``axes``: scale s₋ below the
    mode, s₊ above, per axis (what the split-t's side scales must find)."""

    def __init__(self, mode, axes, below, above):
        self.mode, self.axes, self.below, self.above = mode, axes, below, above

    def log_posterior(self, v):
        u = self.axes.T @ (v - self.mode)
        s = np.where(u > 0, self.above, self.below)
        return -0.5 * np.sum((u / s) ** 2), None


def _approx(mode, cov):
    from multilevel.bayes.marginal.sampler import Laplace

    return Laplace(mode=mode, cov=cov, chol=np.linalg.cholesky(cov), log_posterior=0.0, evaluations=0)


def test_split_scales_recover_a_split_normal():
    from multilevel.bayes.marginal.sampler import PROPOSAL_SCALE, Proposal

    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]
    below, above = np.array([0.5, 2.0, 1.0]), np.array([1.5, 0.7, 1.0])
    target = _SplitNormal(np.ones(3), rotation, below, above)
    # the Laplace fit sees the curvature at the mode only: here a unit covariance on the axes
    proposal = Proposal(_approx(np.ones(3), rotation @ np.diag([0.8, 1.1, 1.0]) ** 2 @ rotation.T
                                / PROPOSAL_SCALE ** 2), target)
    for j in range(3):   # the proposal's axis k is the target's axis j, possibly reversed
        k = int(np.argmax(np.abs(proposal.axes.T @ rotation[:, j])))
        same = proposal.axes[:, k] @ rotation[:, j] > 0
        lo, hi = (below[j], above[j]) if same else (above[j], below[j])
        assert proposal.scales[0, k] == pytest.approx(lo, rel=1e-9)
        assert proposal.scales[1, k] == pytest.approx(hi, rel=1e-9)


def test_split_t_draws_follow_its_density():
    """The draws' distribution is the density the MH ratio uses: along a skewed axis, half the
    mass on each side and each side's quantiles in proportion to its scale."""
    from multilevel.bayes.marginal.sampler import Proposal

    target = _SplitNormal(np.zeros(1), np.eye(1), np.array([3.0]), np.array([0.6]))
    proposal = Proposal(_approx(np.zeros(1), np.eye(1)), target)
    rng = np.random.default_rng(1)
    u = np.array([proposal.independent(rng)[0] for _ in range(40_000)])
    assert np.mean(u > 0) == pytest.approx(0.5, abs=0.01)
    assert -np.quantile(u[u < 0], 0.5) / np.quantile(u[u > 0], 0.5) == pytest.approx(5.0, rel=0.05)
    grid = np.linspace(-200, 200, 400_001)
    density = np.exp([proposal.log_density(np.array([x])) for x in grid[::100]])
    mass = np.trapezoid(density, grid[::100])
    below = np.trapezoid(density[grid[::100] < 0], grid[::100][grid[::100] < 0])
    assert below / mass == pytest.approx(0.5, abs=0.01)


def test_few_levels_no_longer_stick_the_chains():
    """Pastes' 10-batch SD has a skewed posterior; the symmetric t stuck the chains there
    (min ESS 15, R-hat 1.19 with this seed)."""
    import arviz as az

    fit = ml.fit("strength ~ 1 + (1 | batch/cask)", "Pastes", sampler="marginal", seed=1,
                 progress=False, check=False)
    table = az.summary(fit.idata, kind="diagnostics").dropna()
    assert table["ess_bulk"].min() > 600
    assert table["r_hat"].max() < 1.01
