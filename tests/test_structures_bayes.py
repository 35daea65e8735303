"""Structured group-effect covariances in the Bayesian engine (multilevel.bayes.structures).

Fast: the built PyMC model's correlation matrices are the structures' at given
parameters, and its numpy log-likelihood equals PyMC's. Sampled (one module-scoped fit
holding cs, ar1 and toep terms on crossed factors): every structure's parameters are
covered by their 95 % intervals, the posterior means sit near the REML estimates of the
same model, and R-hat ≤ 1.01 for the structures' parameters.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.formula.structures import correlation

TRUTH = {"cs": {"sd": [1.0, 1.5, 2.0], "rho": [0.5]},
         "ar1": {"sd": [1.2, 1.2, 1.2], "rho": [0.7]},
         "toep": {"sd": [1.0, 1.3, 1.6], "rho": [0.6, 0.2]}}
SIGMA = 0.7
FORMULA = "y ~ 1 + cs(0 + f | g_cs) + ar1(0 + f | g_ar1) + toep(0 + f | g_toep)"


def simulate(seed: int = 12, n: int = 1200, levels: int = 80) -> pd.DataFrame:
    """Three crossed grouping factors, each with 3-column effects (the levels of f) drawn
    from one structure; about 5 rows per (group, level of f)."""
    rng = np.random.default_rng(seed)
    f = rng.integers(0, 3, n)
    data = pd.DataFrame({"f": pd.Categorical(np.array(["f1", "f2", "f3"])[f])})
    mu = np.zeros(n)
    for kind, truth in TRUTH.items():
        sd = np.array(truth["sd"])
        rho = truth["rho"][0] if kind != "toep" else truth["rho"]
        cov = np.outer(sd, sd) * correlation(kind, 3, rho)
        codes = rng.integers(0, levels, n)
        mu += rng.multivariate_normal(np.zeros(3), cov, size=levels)[codes, f]
        data[f"g_{kind}"] = pd.Categorical([f"{kind}{c:03d}" for c in codes])
    data["y"] = 2.0 + mu + rng.normal(0.0, SIGMA, n)
    return data


@pytest.fixture(scope="module")
def data():
    return simulate()


def test_built_model_has_each_structures_parameters(data):
    """diag: identity correlations and one SD per column (hom = FALSE); hom = TRUE: one
    SD for the block; cs: ρ from Uniform(−1/(q−1), 1); no LKJ factor for a structure."""
    from multilevel.bayes import build_model

    model = build_model("y ~ 1 + diag(0 + f | g_cs) + cs(0 + f | g_ar1, hom = TRUE)", data).pymc
    assert model["sd|g_cs"].ndim == 1 and model["sd|g_ar1"].ndim == 0
    np.testing.assert_array_equal(model["corr|g_cs"].eval(), np.eye(3))
    assert "rho|g_ar1_unit" in model.named_vars and "rho|g_cs" not in model.named_vars
    assert not [name for name in model.named_vars if name.startswith("chol|")]
    # ρ = lower + (1 − lower)·u with u ~ Beta(1, 1): the ends of u give −1/(q−1) and 1
    rho, unit = model["rho|g_ar1"], model["rho|g_ar1_unit"]
    assert [float(rho.eval({unit: u})) for u in (0.0, 1.0)] == pytest.approx([-0.5, 1.0])


@pytest.fixture(scope="module")
def fit(data):
    with warnings.catch_warnings():
        # (Intercept) mixes slowest (it trades off against the groups' common offset): the
        # checks below are on the structures' parameters
        warnings.simplefilter("ignore", ml.errors.ConvergenceWarning)
        return ml.fit(FORMULA, data, draws=800, tune=600, chains=2, seed=5, progress=False)


@pytest.fixture(scope="module")
def reml(data):
    return ml.fit(FORMULA, data, method="reml")


def _summary(fit):
    with warnings.catch_warnings():   # (Intercept)'s slow mixing: see the fit fixture
        warnings.simplefilter("ignore", ml.errors.ConvergenceWarning)
        return fit.summary()


def _rows(kind: str) -> list[tuple[str, str, float]]:
    """(summary row, REML structure-table parameter, truth) for one structure."""
    truth, group, hom = TRUTH[kind], f"g_{kind}", kind == "ar1"
    rows = [(f"sd__f{c}|{group}", "sd" if hom else f"sd(f{c})", s)
            for c, s in zip(("f1", "f2", "f3"), truth["sd"])]
    if kind == "toep":
        rows += [(f"rho{k}|{group}", f"rho{k}", r) for k, r in enumerate(truth["rho"], start=1)]
    else:
        rows += [(f"rho|{group}", "rho", truth["rho"][0])]
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(TRUTH))
def test_structure_recovers_the_simulated_parameters(fit, reml, kind):
    table = _summary(fit)
    estimates = reml.structures.set_index(["grp", "parameter"])["estimate"]
    for name, param, truth in _rows(kind):
        row = table.loc[name]
        assert row.lower <= truth <= row.upper, (name, truth, row.lower, row.upper)
        assert row.r_hat <= 1.01, (name, row.r_hat)
        # the posterior mean is near the REML estimate of the same model (within 1.5
        # posterior SDs: weak priors, the same likelihood)
        assert abs(row.estimate - estimates[(f"g_{kind}", param)]) < 1.5 * row["sd"], (name, param)


@pytest.mark.slow
def test_structured_fit_reports_sigma_and_varcorr(fit):
    table = _summary(fit)
    assert table.loc["sigma"].lower <= SIGMA <= table.loc["sigma"].upper
    vc = fit.varcorr
    ar1 = vc[(vc.grp == "g_ar1") & vc.var2.notna()].set_index(["var1", "var2"])["sdcor"]
    # the posterior mean of ρ² is not (E ρ)², but the lag-2 correlation is ρ² draw by draw
    draws = np.asarray(fit.posterior["rho|g_ar1"].values).ravel()
    assert ar1[("ff1", "ff3")] == pytest.approx(np.mean(draws ** 2), rel=1e-10)


@pytest.mark.slow
def test_structured_correlations_follow_their_parameters_draw_by_draw(fit):
    post = fit.posterior
    for kind in TRUTH:
        corr = np.asarray(post[f"corr|g_{kind}"].values).reshape(-1, 3, 3)
        rho = np.asarray(post[f"rho|g_{kind}"].values).reshape(len(corr), -1)
        for c, r in zip(corr[::97], rho[::97]):   # a spread of draws
            np.testing.assert_allclose(c, correlation(kind, 3, r if kind == "toep" else r[0]), atol=1e-12)
    assert np.all(np.asarray(post["rho|g_cs"].values) > -0.5)
    assert np.all(np.abs(np.asarray(post["pacf|g_toep"].values)) < 1)


@pytest.mark.slow
def test_report_names_each_structures_prior(fit):
    from multilevel.bayes.names import summary_names
    from multilevel.report.content import prior_table

    priors = prior_table(fit).set_index("parameter")["prior"]
    assert priors["cor__ff1.ff2|g_cs, cor__ff1.ff3|g_cs, cor__ff2.ff3|g_cs"] == \
        "cs: HalfNormal SDs; rho ~ Uniform(-0.5, 1)"
    assert "one HalfNormal SD" in priors["cor__ff1.ff2|g_ar1, cor__ff1.ff3|g_ar1, cor__ff2.ff3|g_ar1"]
    assert not priors.str.contains("LKJ").any()
    names = summary_names(fit.built, fit.posterior)   # free variables → summary rows (psense)
    assert names["pacf|g_toep_unit"] == ["rho1|g_toep", "rho2|g_toep"]
    assert names["sd|g_ar1"] == ["sd__ff1|g_ar1", "sd__ff2|g_ar1", "sd__ff3|g_ar1"]
